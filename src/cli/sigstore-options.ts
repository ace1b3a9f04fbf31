import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { PUBLIC_GOOD_FULCIO_URL, PUBLIC_GOOD_REKOR_URL, type SigstoreEndpoints } from '../client/signing.ts';

export interface SigstoreFlags {
  devTrust?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  rekorVersion?: string;
  tsaUrl?: string;
}

/** The signing commands' common options (DESIGN §9): `--dev-trust BASE`, or explicit URLs, else public-good. */
export function withSigningOptions(command: Command): Command {
  return command
    .option('--dev-trust <base>', 'use the dev trust domain at BASE (its CA, log and root)')
    .option('--fulcio-url <url>', 'certificate authority (env CAIRN_FULCIO_URL; default public-good)')
    .option('--rekor-url <url>', 'transparency log (env CAIRN_REKOR_URL; default public-good)')
    .option('--rekor-version <1|2>', 'log the Rekor v1 way (dsse entry with a signed timestamp, default) or the Rekor v2 way (hashedrekord over the PAE; needs a TSA) (env CAIRN_REKOR_VERSION)')
    .option('--tsa-url <url>', 'RFC 3161 timestamp authority whose timestamp goes into the bundle (env CAIRN_TSA_URL; with --dev-trust and --rekor-version 2: BASE/tsa)');
}

export function signingEndpoints(flags: SigstoreFlags, env: NodeJS.ProcessEnv = process.env): SigstoreEndpoints {
  const base = flags.devTrust?.replace(/\/+$/, '');
  const version = flags.rekorVersion ?? env.CAIRN_REKOR_VERSION ?? '1';
  if (version !== '1' && version !== '2') throw new CairnError('usage.invalid_argument', `--rekor-version must be 1 or 2, got ${JSON.stringify(version)}`);
  const v2 = version === '2';
  // The dev trust domain runs its Rekor v2-style log apart from the v1 one, with its own TSA.
  const tsaUrl = flags.tsaUrl ?? env.CAIRN_TSA_URL ?? (base && v2 ? `${base}/tsa` : undefined);
  return {
    fulcioUrl: flags.fulcioUrl ?? env.CAIRN_FULCIO_URL ?? (base ? `${base}/fulcio` : PUBLIC_GOOD_FULCIO_URL),
    rekorUrl: flags.rekorUrl ?? env.CAIRN_REKOR_URL ?? (base ? `${base}/${v2 ? 'rekor-v2' : 'rekor'}` : PUBLIC_GOOD_REKOR_URL),
    ...(v2 ? { rekorVersion: 2 as const } : {}),
    ...(tsaUrl ? { tsaUrl } : {}),
  };
}
