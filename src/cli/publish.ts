import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { exchangeOidcToken, fetchAudience } from '../client/index-client.ts';
import { obtainOidcToken } from '../client/oidc-credentials.ts';
import { assertDistributionFiles, attestForPublish, uploadDistribution } from '../client/publish/publish-distributions.ts';
import { signingEndpoints, withSigningOptions, type SigstoreFlags } from './sigstore-options.ts';

export function registerPublish(program: Command): void {
  withSigningOptions(
    program
      .command('publish <dist...>')
      .description('upload distributions, with trusted publishing and optional PEP 740 publish attestations')
      .requiredOption('--index <url>', 'index base URL (e.g. http://127.0.0.1:8470)')
      .option('--token <token>', 'an API token (instead of trusted publishing; env CAIRN_TOKEN)')
      .option('--oidc-token-file <file>', 'OIDC token for the trusted-publishing exchange (default: CI ambient credential)')
      .option('--signing-token-file <file>', 'OIDC token for signing attestations (default: the same credential, audience sigstore)')
      .option('--attest', 'sign a PEP 740 publish attestation for each distribution'),
  ).action(
    async (dists: string[], options: SigstoreFlags & { index: string; token?: string; oidcTokenFile?: string; signingTokenFile?: string; attest?: boolean }) => {
      await assertDistributionFiles(dists);
      let token = options.token ?? process.env.CAIRN_TOKEN;
      if (!token) {
        const audience = await fetchAudience(options.index);
        const credential = await obtainOidcToken({ tokenFile: options.oidcTokenFile, audience });
        console.log(`• exchanging the OIDC credential from ${credential.source} for an upload token`);
        token = (await exchangeOidcToken(options.index, credential.token)).token;
      }
      let signingToken: string | undefined;
      if (options.attest) {
        signingToken = (await obtainOidcToken({ tokenFile: options.signingTokenFile ?? options.oidcTokenFile, audience: 'sigstore' })).token;
      }
      const failures: CairnError[] = [];
      for (const path of dists) {
        try {
          const attestations = signingToken ? [await attestForPublish(path, signingToken, signingEndpoints(options))] : [];
          if (signingToken) console.log(`• signed a publish attestation for ${path}`);
          let lastPercent = -1;
          await uploadDistribution(options.index, token, path, {
            attestations,
            progress: (event) => {
              if ('done' in event) {
                console.log(`• ${event.filename}: ${event.done === 'identical' ? 'already on the index (identical)' : 'uploaded'}`);
                return;
              }
              const percent = Math.floor((event.sent / event.total) * 100);
              if (percent >= lastPercent + 25 || percent === 100) {
                lastPercent = percent;
                process.stdout.write(`  ${event.filename} ${percent}%\n`);
              }
            },
          });
        } catch (error) {
          if (!(error instanceof CairnError)) throw error;
          console.error(`✗ ${path}: [${error.code}] ${error.message}`);
          failures.push(error);
        }
      }
      if (failures.length > 0) throw failures[0]!;
    },
  );
}
