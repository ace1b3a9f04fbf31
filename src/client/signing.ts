import { createHash, X509Certificate } from 'node:crypto';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { PublicKeyDetails, TransparencyLogEntry } from '@sigstore/protobuf-specs';
import { CreateEntryRequest } from '@sigstore/protobuf-specs/rekor/v2';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness, type SignatureBundle, type VerificationMaterial, type Witness } from '@sigstore/sign';
import { CairnError } from '../errors.ts';

export const PUBLIC_GOOD_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const PUBLIC_GOOD_REKOR_URL = 'https://rekor.sigstore.dev';

export interface SigstoreEndpoints {
  fulcioUrl: string;
  rekorUrl: string;
  /**
   * 1 (default): a Rekor v1 `dsse` entry with its signed entry timestamp. 2: a Rekor v2 (rekor-tiles)
   * `hashedrekord` 0.0.2 entry over the envelope's PAE, which carries no time: `tsaUrl` is then required.
   */
  rekorVersion?: 1 | 2;
  /** An RFC 3161 timestamp authority (Sigstore timestamp-authority API) whose timestamp goes into the bundle. */
  tsaUrl?: string;
}

const TIMEOUT_MS = 30_000;

/**
 * The timestamp endpoint of a TSA base URL. sigstore-js appends `/api/v1/timestamp` only to a URL
 * with no path, and takes any other URL as the endpoint itself; a base like BASE/tsa has a path.
 */
function timestampEndpoint(tsaUrl: string): string {
  const url = tsaUrl.replace(/\/+$/, '');
  return url.endsWith('/api/v1/timestamp') ? url : `${url}/api/v1/timestamp`;
}

/**
 * Logs a DSSE envelope in a Rekor v2 log. Since rekor-tiles PR #744 (2026-06-09) Rekor v2 takes no
 * DSSE entries: the envelope is logged as `hashedrekord` 0.0.2 over SHA-256(PAE(type, payload)),
 * the bytes its signature covers. (@sigstore/sign 5.1.0 still sends a `dsseRequestV002`.)
 */
export class RekorV2HashedRekordWitness implements Witness {
  constructor(private readonly rekorUrl: string) {}

  async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
    if (content.$case !== 'dsseEnvelope') throw new CairnError('usage.invalid_argument', 'cairn signs DSSE envelopes only');
    const envelope = content.dsseEnvelope;
    const signature = envelope.signatures[0];
    if (!signature) throw new CairnError('usage.invalid_argument', 'the envelope has no signature');
    const digest = createHash('sha256').update(dsse.preAuthEncoding(envelope.payloadType, envelope.payload)).digest();
    const request = CreateEntryRequest.toJSON({
      spec: {
        $case: 'hashedRekordRequestV002',
        hashedRekordRequestV002: {
          digest,
          signature: {
            content: signature.sig,
            verifier: { verifier: { $case: 'x509Certificate', x509Certificate: { rawBytes: Buffer.from(new X509Certificate(publicKey).raw) } }, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256 },
          },
        },
      },
    });
    const url = `${this.rekorUrl.replace(/\/+$/, '')}/api/v2/log/entries`;
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(request), signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!response.ok) throw new Error(`${url} answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
    const entry = TransparencyLogEntry.fromJSON(await response.json());
    if (!entry.logId || !entry.kindVersion || !entry.inclusionProof) throw new Error(`${url} answered an entry without logId, kindVersion or inclusionProof`);
    return { tlogEntries: [{ ...entry, logId: entry.logId, kindVersion: entry.kindVersion }] };
  }
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
  if (endpoints.rekorVersion === 2 && !endpoints.tsaUrl) {
    throw new CairnError('usage.invalid_argument', 'a Rekor v2 entry carries no signing time: name a timestamp authority (--tsa-url, or --dev-trust)');
  }
  const witnesses: Witness[] = [
    endpoints.rekorVersion === 2
      ? new RekorV2HashedRekordWitness(endpoints.rekorUrl)
      : new RekorWitness({ rekorBaseURL: endpoints.rekorUrl, entryType: 'dsse', timeout: TIMEOUT_MS, retry: 2 }),
    ...(endpoints.tsaUrl ? [new TSAWitness({ tsaBaseURL: timestampEndpoint(endpoints.tsaUrl), timeout: TIMEOUT_MS, retry: 2 })] : []),
  ];
  const builder = new DSSEBundleBuilder({ signer, witnesses });
  try {
    const bundle = await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: 'application/vnd.in-toto+json' });
    return bundleToJSON(bundle);
  } catch (error) {
    const detail = error instanceof Error ? `${error.message}${(error as { cause?: unknown }).cause ? ` (${String((error as { cause?: unknown }).cause)})` : ''}` : String(error);
    const services = [endpoints.fulcioUrl, endpoints.rekorUrl, ...(endpoints.tsaUrl ? [endpoints.tsaUrl] : [])].join(' / ');
    throw new CairnError('network.error', `signing failed against ${services}: ${detail}`);
  }
}
