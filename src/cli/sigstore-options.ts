import type { Command } from 'commander';
import { PUBLIC_GOOD_FULCIO_URL, PUBLIC_GOOD_REKOR_URL, type SigstoreEndpoints } from '../client/signing.ts';

export interface SigstoreFlags {
  devTrust?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
}

/** The signing commands' common options (DESIGN §9): `--dev-trust BASE`, or explicit URLs, else public-good. */
export function withSigningOptions(command: Command): Command {
  return command
    .option('--dev-trust <base>', 'use the dev trust domain at BASE (its CA, log and root)')
    .option('--fulcio-url <url>', 'certificate authority (env CAIRN_FULCIO_URL; default public-good)')
    .option('--rekor-url <url>', 'transparency log (env CAIRN_REKOR_URL; default public-good)');
}

export function signingEndpoints(flags: SigstoreFlags, env: NodeJS.ProcessEnv = process.env): SigstoreEndpoints {
  const base = flags.devTrust?.replace(/\/+$/, '');
  return {
    fulcioUrl: flags.fulcioUrl ?? env.CAIRN_FULCIO_URL ?? (base ? `${base}/fulcio` : PUBLIC_GOOD_FULCIO_URL),
    rekorUrl: flags.rekorUrl ?? env.CAIRN_REKOR_URL ?? (base ? `${base}/rekor` : PUBLIC_GOOD_REKOR_URL),
  };
}
