import type { Command } from 'commander';
import { basename } from 'node:path';
import { CairnError } from '../errors.ts';
import { parseDistributionFilename } from '../formats/dist-filename.ts';
import { exchangeOidcToken, fetchAudience, indexUrl, parseIndexOption } from '../client/index-client.ts';
import { obtainOidcToken, peekClaims } from '../client/oidc-credentials.ts';
import { assertDistributionFiles, attestForPublish, uploadDistribution } from '../client/publish/publish-distributions.ts';
import { publishStaged } from './publish-staged.ts';
import { signingEndpoints, withSigningOptions, type SigstoreFlags } from './sigstore-options.ts';

/** The audience Sigstore's CA (Fulcio, and the dev trust domain's) demands of a signing token. */
const SIGNING_AUDIENCE = 'sigstore';

interface Credential {
  token: string;
  source: string;
}

/**
 * Checks a token's audience and expiry before it is spent. The exchange consumes a token (the
 * index remembers its `jti`), so a publish that failed later — a signing token of the wrong
 * audience — could not simply be retried with the same file.
 */
function checkCredential(credential: Credential, expected: string, role: string, hint: string, now: Date): void {
  const claims = peekClaims(credential.token);
  const aud = claims.aud;
  const audiences = Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : typeof aud === 'string' ? [aud] : [];
  if (!audiences.includes(expected)) {
    throw new CairnError(
      'oidc.bad_audience',
      `the OIDC token from ${credential.source} has audience ${audiences.length ? audiences.map((a) => `'${a}'`).join(', ') : 'none'}, but ${role} needs audience '${expected}'. ${hint} Nothing was sent: the token is unspent.`,
    );
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= now.getTime()) {
    throw new CairnError('oidc.expired', `the OIDC token from ${credential.source} expired at ${new Date(claims.exp * 1000).toISOString()}; mint a new one (audience '${expected}') for ${role}`);
  }
}

export function registerPublish(program: Command): void {
  withSigningOptions(
    program
      .command('publish <dist...>')
      .description('upload distributions, with trusted publishing and optional PEP 740 publish attestations')
      .requiredOption('--index <url>', 'index base URL (e.g. http://127.0.0.1:8470; a trailing /legacy/ or /simple/ is accepted)')
      .option('--token <token>', 'an API token (instead of trusted publishing; env CAIRN_TOKEN)')
      .option('--oidc-token-file <file>', "OIDC token for the trusted-publishing exchange, audience: the index's (GET /_/oidc/audience; cairn by default) (default: CI ambient credential)")
      .option('--signing-token-file <file>', 'OIDC token for signing attestations, audience sigstore (default: the CI ambient credential)')
      .option('--attest', 'sign a PEP 740 publish attestation for each distribution')
      .option('--stage', 'publish through a publishing session (PEP 694): stage every file, then make them public together, or none (docs/staged-publishing.md)')
      .option('--require-provenance <kind>', "with --stage: 'build' refuses the publish while a file lacks verified build provenance")
      .option('--wait <seconds>', 'with --stage: wait up to this long for build provenance of every staged file before publishing', '0')
      .option('--no-publish', 'with --stage: stage only; print the stage index to test with pip and the URLs that publish or cancel'),
  ).action(
    async (
      dists: string[],
      options: SigstoreFlags & { index: string; token?: string; oidcTokenFile?: string; signingTokenFile?: string; attest?: boolean; stage?: boolean; requireProvenance?: string; wait: string; publish: boolean },
    ) => {
      const index = parseIndexOption(options.index);
      if (!options.stage && (options.requireProvenance !== undefined || options.wait !== '0' || !options.publish)) {
        throw new CairnError('usage.invalid_argument', '--require-provenance, --wait and --no-publish apply to a staged publish: add --stage');
      }
      if (options.requireProvenance !== undefined && options.requireProvenance !== 'build') {
        throw new CairnError('usage.invalid_argument', `--require-provenance takes 'build', got '${options.requireProvenance}'`);
      }
      const waitSeconds = Number(options.wait);
      if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 24 * 3600) {
        throw new CairnError('usage.invalid_argument', `--wait takes whole seconds from 0 to 86400, got '${options.wait}'`);
      }
      await assertDistributionFiles(dists);
      let token = options.token ?? process.env.CAIRN_TOKEN;
      // Both credentials are found and checked before either is used: one exchange spends its token.
      let exchange: { credential: Credential; audience: string } | undefined;
      if (!token) {
        const audience = await fetchAudience(index);
        exchange = { credential: await obtainOidcToken({ tokenFile: options.oidcTokenFile, audience }), audience };
      }
      let signing: Credential | undefined;
      if (options.attest) {
        signing = await obtainOidcToken({ tokenFile: options.signingTokenFile ?? options.oidcTokenFile, audience: SIGNING_AUDIENCE });
      }
      const now = new Date();
      if (exchange) {
        checkCredential(
          exchange.credential,
          exchange.audience,
          'the trusted-publishing exchange',
          `Mint one for audience '${exchange.audience}' (the index's GET /_/oidc/audience) and pass it with --oidc-token-file${options.attest ? `; the signing token (--signing-token-file) needs audience '${SIGNING_AUDIENCE}'` : ''}.`,
          now,
        );
      }
      if (signing) {
        checkCredential(
          signing,
          SIGNING_AUDIENCE,
          'signing the publish attestations (--attest)',
          `Pass a second token minted for audience '${SIGNING_AUDIENCE}' with --signing-token-file FILE${exchange ? `; --oidc-token-file keeps the exchange token (audience '${exchange.audience}')` : ''}.`,
          now,
        );
      }
      if (exchange) {
        console.log(`• exchanging the OIDC credential from ${exchange.credential.source} for an upload token`);
        token = (
          await exchangeOidcToken(index, exchange.credential.token).catch((error: unknown) => {
            if (error instanceof CairnError && error.code === 'oidc.replayed') {
              throw new CairnError('oidc.replayed', `${error.message}; the new token needs audience '${exchange.audience}'`);
            }
            throw error;
          })
        ).token;
      }
      if (options.stage) {
        await publishStaged(dists, {
          index,
          token: token!,
          requireProvenance: options.requireProvenance === 'build' ? 'build' : undefined,
          waitSeconds,
          publish: options.publish,
          attest: async (path) => {
            if (!signing) return [];
            const attestation = await attestForPublish(path, signing.token, signingEndpoints(options));
            console.log(`• signed a publish attestation for ${path}`);
            return [attestation];
          },
        });
        return;
      }
      const failures: CairnError[] = [];
      const releases = new Map<string, string>();
      for (const path of dists) {
        try {
          const attestations = signing ? [await attestForPublish(path, signing.token, signingEndpoints(options))] : [];
          if (signing) console.log(`• signed a publish attestation for ${path}`);
          let lastPercent = -1;
          const report = (filename: string, percent: number) => {
            lastPercent = percent;
            process.stdout.write(`  ${filename} ${percent}%\n`);
          };
          await uploadDistribution(index, token!, path, {
            attestations,
            progress: (event) => {
              if ('done' in event) {
                // The form's closing boundary follows the file's last byte: the bar ends on the answer.
                if (lastPercent < 100) report(event.filename, 100);
                console.log(`• ${event.filename}: ${event.done === 'identical' ? 'already on the index (identical)' : 'uploaded'}`);
                return;
              }
              const percent = Math.min(99, Math.floor((event.sent / event.total) * 100));
              if (percent >= lastPercent + 25) report(event.filename, percent);
            },
          });
          const parsed = parseDistributionFilename(basename(path));
          releases.set(`${parsed.normalizedProject} ${parsed.version}`, indexUrl(index, `/project/${parsed.normalizedProject}/${encodeURIComponent(parsed.version)}/`));
        } catch (error) {
          if (!(error instanceof CairnError)) throw error;
          console.error(`✗ ${path}: [${error.code}] ${error.message}`);
          failures.push(error);
        }
      }
      for (const url of releases.values()) console.log(`• release page: ${url}`);
      if (failures.length > 0) throw failures[0]!;
    },
  );
}
