import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign';
import { CairnError } from '../errors.ts';

export const PUBLIC_GOOD_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const PUBLIC_GOOD_REKOR_URL = 'https://rekor.sigstore.dev';

export interface SigstoreEndpoints {
  fulcioUrl: string;
  rekorUrl: string;
}

/**
 * Keyless signing of an in-toto statement through sigstore-js: an ephemeral key, a short-lived
 * certificate from the CA for the OIDC identity, a DSSE envelope, a transparency-log entry. The
 * same calls work against the public-good instance and the dev trust domain (only URLs differ).
 */
export async function signStatement(statement: Record<string, unknown>, identityToken: string, endpoints: SigstoreEndpoints): Promise<SerializedBundle> {
  const signer = new FulcioSigner({
    identityProvider: { getToken: async () => identityToken },
    fulcioBaseURL: endpoints.fulcioUrl,
    timeout: 30_000,
    retry: 2,
  });
  const builder = new DSSEBundleBuilder({
    signer,
    witnesses: [new RekorWitness({ rekorBaseURL: endpoints.rekorUrl, entryType: 'dsse', timeout: 30_000, retry: 2 })],
  });
  try {
    const bundle = await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' });
    return bundleToJSON(bundle);
  } catch (error) {
    const detail = error instanceof Error ? `${error.message}${(error as { cause?: unknown }).cause ? ` (${String((error as { cause?: unknown }).cause)})` : ''}` : String(error);
    throw new CairnError('network.error', `signing failed against ${endpoints.fulcioUrl} / ${endpoints.rekorUrl}: ${detail}`);
  }
}
