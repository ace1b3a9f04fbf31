import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import Fastify from 'fastify';
import { CairnError } from '../errors.ts';
import { registerDevTrust as mountDevTrust } from '../devtrust/routes.ts';
import { TRUSTED_ROOT_FILE } from '../devtrust/trusted-root.ts';
import { devIssuerToken } from '../client/oidc-credentials.ts';
import { listenFailure } from './listen-errors.ts';

const DEFAULT_PORT = 8471;

interface ServeOptions {
  host: string;
  port: string;
  out: string;
  quiet?: boolean;
}

interface TokenOptions {
  url: string;
  repository: string;
  workflowRef: string;
  jobWorkflowRef?: string;
  sha: string;
  ref?: string;
  aud?: string;
  environment?: string;
  runId?: string;
  runnerEnvironment?: string;
  ttl?: string;
}

/** `cairn dev-trust` (the domain standalone, at its own root) and `cairn dev-trust token` (DESIGN §9). */
export function registerDevTrust(program: Command): void {
  const devTrust = program
    .command('dev-trust')
    .description('run the dev trust domain standalone: OIDC issuer, Fulcio-style CA and Rekor-style log (never trust it in production)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', String(DEFAULT_PORT))
    .option('--out <dir>', 'state directory (keys, log entries, trusted_root.json)', './data/dev-trust')
    .option('--quiet', 'no request log')
    .action(async (options: ServeOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CairnError('usage.invalid_argument', `--port must be a port number, got ${options.port}`);
      const stateDir = resolve(options.out);
      const app = Fastify({ logger: options.quiet ? false : { level: 'info' } });
      let base = '';
      await mountDevTrust(app, { prefix: '', baseUrl: () => base, stateDir });
      const address = await app.listen({ host: options.host, port }).catch((error: unknown) => {
        throw listenFailure(error, { host: options.host, port, option: '--port' });
      });
      base = publicAddress(address);
      console.log(`cairn dev trust domain at ${base} (issuer ${base}/oidc, CA ${base}/fulcio, log ${base}/rekor)`);
      console.log(`trusted root: ${join(stateDir, TRUSTED_ROOT_FILE)} (also ${base}/trusted_root.json)`);
      const stop = () => {
        void app.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  devTrust
    .command('token')
    .description('print a CI-like OIDC token (JWT) minted by the dev trust domain at BASE')
    .requiredOption('--url <base>', 'the domain BASE URL (e.g. http://127.0.0.1:8470/_/dev)')
    .requiredOption('--repository <repo>', 'OWNER/REPO, or a full URL certified as the Source Repository URI as is')
    .requiredOption('--workflow-ref <ref>', 'the calling workflow, e.g. OWNER/REPO/.github/workflows/release.yml@refs/heads/main')
    .option('--job-workflow-ref <ref>', 'the workflow that runs (a reusable builder); defaults to --workflow-ref')
    .requiredOption('--sha <sha>', 'the source commit')
    .option('--ref <ref>', 'the git ref (default refs/heads/main)')
    .option('--aud <audience>', 'token audience (default sigstore)')
    .option('--environment <env>', 'deployment environment claim')
    .option('--run-id <id>', 'run id claim')
    .option('--runner-environment <kind>', 'runner_environment claim, certified as Fulcio extension 1.3.6.1.4.1.57264.1.11: github-hosted (default) or self-hosted')
    .option('--ttl <seconds>', 'token lifetime (default 600)')
    .action(async (options: TokenOptions) => {
      const { token } = await devIssuerToken(options.url, {
        repository: options.repository,
        workflow_ref: options.workflowRef,
        job_workflow_ref: options.jobWorkflowRef,
        sha: options.sha,
        ref: options.ref,
        aud: options.aud,
        environment: options.environment,
        run_id: options.runId,
        runner_environment: options.runnerEnvironment,
        ttl: options.ttl === undefined ? undefined : Number(options.ttl),
      });
      console.log(token);
    });
}

/** A wildcard listen address is not a URL clients can use; name loopback instead. */
function publicAddress(address: string): string {
  return address.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
}
