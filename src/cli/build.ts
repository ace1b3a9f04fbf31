import type { Command } from 'commander';
import { resolve } from 'node:path';
import { buildAndSubmit } from '../client/builder/build-and-submit.ts';
import { isCairnError } from '../errors.ts';
import { devIssuerToken, obtainOidcToken } from '../client/oidc-credentials.ts';
import { signingEndpoints, withSigningOptions, type SigstoreFlags } from './sigstore-options.ts';

export function registerBuild(program: Command): void {
  withSigningOptions(
    program
      .command('build')
      .description('the builder: clone REPO at COMMIT, build sdist + wheel, sign SLSA provenance, submit it to the index')
      .requiredOption('--repo <url>', 'git repository to build')
      .requiredOption('--commit <sha>', 'full commit SHA to build (refs are refused)')
      .option('--source-uri <url>', 'https URL to record as the source when --repo is a local path or mirror')
      .option('--subdir <dir>', 'build the project in this subdirectory')
      .option('--out <dir>', 'where to write distributions and their bundles', 'dist')
      .option('--index <url>', 'index to submit provenance to (e.g. http://127.0.0.1:8470)')
      .option('--oidc-token-file <file>', 'OIDC token to sign with (default: the CI ambient credential)')
      .option('--no-isolation', 'build with the backend already installed (offline machines)')
      .option('--python <path>', 'interpreter with the `build` frontend (env CAIRN_PYTHON)'),
  ).action(
    async (options: SigstoreFlags & { repo: string; commit: string; sourceUri?: string; subdir?: string; out: string; index?: string; oidcTokenFile?: string; isolation: boolean; python?: string }) => {
      const { token, source } = await obtainOidcToken({ tokenFile: options.oidcTokenFile, audience: 'sigstore' }).catch((error: unknown) => {
        // No CI credential on a developer machine: with --dev-trust, the dev issuer vouches for the
        // repository and commit being built (DESIGN §5), as a CI's issuer would.
        if (!options.devTrust || options.oidcTokenFile || !isCairnError(error) || error.code !== 'usage.invalid_argument') throw error;
        const repository = devRepositoryClaim(options.sourceUri ?? options.repo);
        return devIssuerToken(options.devTrust, {
          repository,
          workflow_ref: `${repository}/.github/workflows/cairn-build.yml@refs/heads/main`,
          sha: options.commit,
          aud: 'sigstore',
        });
      });
      console.log(`• OIDC credential from ${source}`);
      const result = await buildAndSubmit({
        repository: options.repo,
        commit: options.commit,
        sourceUri: options.sourceUri,
        subdir: options.subdir,
        outDir: resolve(options.out),
        index: options.index,
        oidcToken: token,
        endpoints: signingEndpoints(options),
        isolation: options.isolation,
        python: options.python ?? process.env.CAIRN_PYTHON ?? 'python3',
        progress: (step) => console.log(`• ${step}`),
      });
      console.log(`built by ${result.builderId}`);
      for (const d of result.distributions) {
        console.log(`  ${d.filename}  sha256:${d.sha256}  ${d.submitted ?? 'not submitted'}`);
      }
    },
  );
}

/** GitHub repositories as OWNER/REPO (certified as https://github.com/OWNER/REPO); other URLs as they are. */
function devRepositoryClaim(source: string): string {
  const github = /^https:\/\/github\.com\/([\w.-]+\/[\w.-]+?)(?:\.git)?\/?$/.exec(source);
  return github ? github[1]! : source;
}
