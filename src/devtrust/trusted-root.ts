import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TransparencyLogInstanceJson, TrustedRootJson } from '../trust/trusted-roots.ts';
import type { DevTrustKeys } from './keys.ts';
import { loadOrCreateDevTrustKeys, readJsonFile } from './keys.ts';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

export type { TrustedRootJson };

export const TRUSTED_ROOT_FILE = 'trusted_root.json';
export const DOMAIN_FILE = 'domain.json';

/**
 * The root a verifier needs for this domain: its CA, its two logs (Rekor v1-style and v2-style),
 * its CT log (so sigstore-js's default thresholds apply) and its timestamp authority. A log's
 * `baseUrl` matters: sigstore-js accepts a checkpoint signature only if the signer name (the host)
 * is part of it.
 */
export function buildTrustedRoot(keys: DevTrustKeys, baseUrl: string): TrustedRootJson {
  const base = baseUrl.replace(/\/+$/, '');
  const start = keys.validFrom.toISOString();
  const logInstance = (url: string, publicKeyDer: Buffer, logId: Buffer, from = start): TransparencyLogInstanceJson => ({
    baseUrl: url,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: publicKeyDer.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: from } },
    logId: { keyId: logId.toString('base64') },
  });
  const v2Start = keys.rekorV2.validFrom.toISOString();
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [logInstance(`${base}/rekor`, keys.rekor.publicKeyDer, keys.rekor.logId), logInstance(`${base}/rekor-v2`, keys.rekorV2.publicKeyDer, keys.rekorV2.logId, v2Start)],
    certificateAuthorities: [
      {
        subject: { organization: 'cairn dev trust', commonName: 'cairn dev trust CA' },
        uri: `${base}/fulcio`,
        certChain: { certificates: [{ rawBytes: keys.ca.certificateDer.toString('base64') }] },
        validFor: { start },
      },
    ],
    ctlogs: [logInstance(`${base}/ct`, keys.ctLog.publicKeyDer, keys.ctLog.logId)],
    timestampAuthorities: [
      {
        subject: { organization: 'cairn dev trust', commonName: 'cairn dev trust TSA' },
        uri: `${base}/tsa`,
        // Leaf first, then the root that issued it (sigstore-js verifies the leaf against the rest).
        certChain: { certificates: [{ rawBytes: keys.tsa.certificateDer.toString('base64') }, { rawBytes: keys.tsa.rootCertificateDer.toString('base64') }] },
        validFor: { start: keys.tsa.validFrom.toISOString() },
      },
    ],
  };
}

/**
 * The TrustedRoot of the domain whose state lives in `stateDir` (created if absent), for an
 * index that mounts it and must trust it. Without `baseUrl`, the URL the domain last served at.
 */
export async function devTrustRoot(stateDir: string, baseUrl?: string): Promise<TrustedRootJson> {
  const keys = await loadOrCreateDevTrustKeys(stateDir);
  return buildTrustedRoot(keys, baseUrl ?? lastBaseUrl(stateDir) ?? 'http://127.0.0.1');
}

export function lastBaseUrl(stateDir: string): string | undefined {
  const path = join(stateDir, DOMAIN_FILE);
  if (!existsSync(path)) return undefined;
  return readJsonFile<{ baseUrl?: string }>(path).baseUrl;
}
