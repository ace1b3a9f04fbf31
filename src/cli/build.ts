import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildAndSubmit, defaultProvenanceOutDir } from '../client/builder/build-and-submit.ts';
import { parseIndexOption } from '../client/index-client.ts';
import { CairnError, isCairnError } from '../errors.ts';
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
      .option('--out <dir>', 'where to write the distributions, and nothing else (twine upload DIR/* works)', 'dist')
      .option('--provenance-out <dir>', 'where to write each distribution\'s Sigstore bundle and PEP 740 attestation (default: DIR-provenance beside --out)')
      .option('--index <url>', 'index to submit provenance to (its base URL, e.g. http://127.0.0.1:8470)')
      .option('--oidc-token-file <file>', 'OIDC token to sign with (default: the CI ambient credential)')
      .option('--no-isolation', 'build with the backend already installed (offline machines)')
      .option('--python <path>', 'interpreter with the `build` frontend (env CAIRN_PYTHON; default: the first of python3, /usr/bin/python3, python that has it)'),
  ).action(
    async (options: SigstoreFlags & { repo: string; commit: string; sourceUri?: string; subdir?: string; out: string; provenanceOut?: string; index?: string; oidcTokenFile?: string; isolation: boolean; python?: string }) => {
      const index = options.index === undefined ? undefined : parseIndexOption(options.index);
      // `npx cairn` runs from cairn's checkout, whose dist/ is cairn's own compiled JavaScript:
      // distributions written there would vanish with the next `npm run build`, and `twine upload
      // dist/*` would try to upload cairn.
      if (existsSync(join(resolve(options.out), 'build-info.json')) && existsSync(join(resolve(options.out), 'cli'))) {
        throw new CairnError('usage.invalid_argument', `--out ${options.out} is cairn's own compiled JavaScript (this is the cairn checkout): write the distributions elsewhere, e.g. --out ./myproject/dist`);
      }
      const python = options.python ? { python: options.python, from: '--python' } : process.env.CAIRN_PYTHON ? { python: process.env.CAIRN_PYTHON, from: 'CAIRN_PYTHON' } : undefined;
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
        provenanceOutDir: options.provenanceOut ? resolve(options.provenanceOut) : defaultProvenanceOutDir(options.out),
        ...(index ? { index } : {}),
        oidcToken: token,
        endpoints: signingEndpoints(options),
        isolation: options.isolation,
        ...(python ? { python } : {}),
        progress: (step) => console.log(`• ${step}`),
      });
      console.log(`built by ${result.builderId} with ${result.python}`);
      for (const d of result.distributions) {
        console.log(`  ${d.filename}  sha256:${d.sha256}  ${d.submitted ?? 'not submitted'}`);
      }
      const first = result.distributions[0];
      if (first) {
        console.log(`distributions in ${resolve(options.out)} (twine upload ${options.out}/* works); bundles and attestations in ${dirname(first.bundlePath)}`);
      }
    },
  );
}

/** GitHub repositories as OWNER/REPO (certified as https://github.com/OWNER/REPO); other URLs as they are. */
function devRepositoryClaim(source: string): string {
  const github = /^https:\/\/github\.com\/([\w.-]+\/[\w.-]+?)(?:\.git)?\/?$/.exec(source);
  return github ? github[1]! : source;
}
