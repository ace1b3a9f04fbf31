import { createRequire } from 'node:module';
import type { X509Certificate } from '@sigstore/core';
import { Verifier, type SignedEntity, type Signer, type TrustMaterial } from '@sigstore/verify';

/**
 * Every place where cairn reaches past sigstore-js's public API, in one module, for exactly the
 * @sigstore/verify release it was written against. The fast path (verify-attestation.ts) replaces
 * only the signing-certificate step of `Verifier.verify` with a cached path validation
 * (certificate-chain.ts, and sct.ts for the SCTs) and runs the Verifier's own timestamp, log and
 * signature steps, methods that are not in its declared type. The tests also compare cairn's SCT
 * check with sigstore-js's `dist/key/sct.js`, which the package does not export.
 *
 * Upgrading @sigstore/verify: read its `dist/verifier.js`, `dist/key/index.js` and
 * `dist/key/sct.js` (what `verify()`, `verifyCertificate()` and `verifySCTs()` do, in which
 * order), adjust the fast path if they changed, then add the version here. An installed version
 * not listed turns the fast path off (plain `Verifier.verify`, 3-4x slower, never less strict) and
 * says why in `fastPathStatus()`; test/unit/verify-fast-path.test.ts fails when that happens, so it
 * cannot happen silently.
 */
export const FAST_PATH_VERIFY_VERSIONS: readonly string[] = ['4.1.3'];

/** The Verifier steps `Verifier.verify` runs in turn (dist/verifier.js). */
interface VerifierSteps {
  verifyTimestamps(entity: SignedEntity): Date[];
  verifyTLogs(entity: SignedEntity): void;
  verifySignature(entity: SignedEntity, signer: Signer): void;
}

export interface FastPathStatus {
  enabled: boolean;
  /** The installed @sigstore/verify. */
  version: string;
  /** Why it is off (empty when on). */
  reason: string;
}

let status: FastPathStatus | undefined;

function installedVerifyVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('@sigstore/verify/package.json') as { version: string }).version;
}

/** Whether the fast path may be used with the installed sigstore-js, decided once per process. */
export function fastPathStatus(): FastPathStatus {
  if (!status) {
    const version = installedVerifyVersion();
    const prototype = Verifier.prototype as unknown as Record<string, unknown>;
    const missing = ['verifyTimestamps', 'verifyTLogs', 'verifySignature'].filter((name) => typeof prototype[name] !== 'function');
    let reason = '';
    if (!FAST_PATH_VERIFY_VERSIONS.includes(version)) reason = `@sigstore/verify ${version} is not one the fast path was written for (${FAST_PATH_VERIFY_VERSIONS.join(', ')})`;
    else if (missing.length > 0) reason = `@sigstore/verify ${version} has no Verifier.${missing.join(', ')}`;
    status = { enabled: reason === '', version, reason };
  }
  return status;
}

/** The timestamp, log and signature steps of a sigstore-js Verifier (only while `fastPathStatus().enabled`). */
export function verifierSteps(verifier: Verifier): VerifierSteps {
  return verifier as unknown as VerifierSteps;
}

type SctCheck = (leaf: X509Certificate, issuer: X509Certificate, ctlogs: TrustMaterial['ctlogs']) => Buffer[];

/**
 * sigstore-js's own SCT check (dist/key/sct.js, what its `verifyCertificate` calls), for the test
 * that holds cairn's sct.ts to it; null if this sigstore-js has no such file.
 */
export function sigstoreSctCheck(): SctCheck | null {
  try {
    return (createRequire(import.meta.url)('@sigstore/verify/dist/key/sct.js') as { verifySCTs: SctCheck }).verifySCTs;
  } catch {
    return null;
  }
}
