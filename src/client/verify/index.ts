import { writeFileSync } from 'node:fs';
import { withAttestationIdentities, type AttestationIdentity } from '../../formats/pylock.ts';
import { resolveTargets, type LockTarget, type TargetOptions } from './targets.ts';
import { createVerifySession, type DistributionRequest, type DistributionResult, type VerifyOptions } from './verify-distribution.ts';

export { createVerifySession, VerifySession } from './verify-distribution.ts';
export { identityMatches, lockIdentityOf } from '../../policy/lock-identities.ts';
export type { AttestationReport, DistributionRequest, DistributionResult, ResultStatus, VerifyOptions } from './verify-distribution.ts';
export { resolveTargets, type LockTarget, type ResolvedTargets, type TargetOptions } from './targets.ts';
export { loadExtraRoots } from './trusted-roots.ts';
export { defaultCacheDir, VerifyCache } from './disk-cache.ts';

/**
 * Verifies one distribution file: its digest, its attestations (given, or from the index's
 * integrity API), each verified offline against the trusted roots, then the policy.
 */
export async function verifyDistribution(request: DistributionRequest, options: VerifyOptions): Promise<DistributionResult> {
  const [result] = await createVerifySession(options).verifyRequests([request]);
  return result!;
}

export interface VerifyRun {
  results: DistributionResult[];
  /** Lock files rewritten by `lockIdentities`, with the packages that received identities. */
  lockUpdates: { path: string; packages: string[] }[];
  /** 0 all passed, 1 a file failed verification or policy, 3 a file could not be checked (network, cache). */
  exitCode: 0 | 1 | 3;
}

export function exitCodeOf(results: DistributionResult[]): 0 | 1 | 3 {
  if (results.some((r) => r.status === 'fail')) return 1;
  if (results.some((r) => r.status === 'error')) return 3;
  return 0;
}

/** Identities per package of a lock whose files all passed (PEP 751 `attestation-identities`). */
function identitiesForLock(lock: LockTarget, results: DistributionResult[]): Map<string, AttestationIdentity[]> {
  const out = new Map<string, AttestationIdentity[]>();
  for (const [key, indexes] of lock.requestsByPackage) {
    const files = indexes.map((i) => results[i]!);
    if (files.length === 0 || files.some((r) => r.status !== 'pass')) continue;
    const seen = new Map<string, AttestationIdentity>();
    for (const identity of files.flatMap((r) => r.identities)) seen.set(JSON.stringify(identity), identity);
    if (seen.size > 0) out.set(key, [...seen.values()]);
  }
  return out;
}

/** `cairn verify TARGET…` as a function: resolve, verify, decide, and optionally record lock identities. */
export async function verifyTargets(
  targets: string[],
  options: VerifyOptions & TargetOptions & { lockIdentities?: boolean },
): Promise<VerifyRun> {
  const session = createVerifySession(options);
  const { requests, locks } = await resolveTargets(session, targets, options);
  const results = await session.verifyRequests(requests);
  const lockUpdates: VerifyRun['lockUpdates'] = [];
  if (options.lockIdentities) {
    for (const lock of locks) {
      const identities = identitiesForLock(lock, results);
      if (identities.size === 0) continue;
      writeFileSync(lock.path, withAttestationIdentities(lock.text, identities, lock.path));
      lockUpdates.push({ path: lock.path, packages: [...identities.keys()] });
    }
  }
  return { results, lockUpdates, exitCode: exitCodeOf(results) };
}
