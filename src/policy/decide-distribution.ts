import type { ErrorCode } from '../errors.ts';
import type { AttestationIdentity } from '../formats/pylock.ts';
import { evaluatePolicy } from './evaluate.ts';
import { describeIdentity, identityMatches, lockIdentityOf } from './lock-identities.ts';
import type { Policy, PolicyInput, PolicyVerdict } from './types.ts';

/** An attestation found for the file that did not verify, and why. */
export interface UnverifiedAttestation {
  source: string;
  code: ErrorCode;
  error: string;
}

/** Everything the consumer's decision on one distribution file rests on, already gathered. */
export interface DistributionEvidence extends PolicyInput {
  unverified: UnverifiedAttestation[];
  /** PEP 751 `attestation-identities` the lock file records for this file; empty when it records none. */
  lockIdentities: readonly AttestationIdentity[];
  /** Where the file was asked for (`pylock.toml packages[3]`, a path), for messages. */
  origin: string;
}

export interface DistributionDecision {
  pass: boolean;
  /** Set when `pass` is false. */
  code?: ErrorCode;
  reason: string;
  verdict: PolicyVerdict;
  warnings: string[];
  /** The PEP 751 identity the accepted attestation establishes (for `--lock-identities`). */
  identities: AttestationIdentity[];
}

/**
 * The consumer's decision on one file: the policy verdict, then the lock file's recorded
 * identities. Verification has already happened; this only weighs what verified.
 */
export function decideDistribution(policy: Policy, evidence: DistributionEvidence): DistributionDecision {
  const verdict = evaluatePolicy(policy, evidence);
  const warnings = [...verdict.warnings, ...evidence.unverified.map((u) => `${u.source}: not verified [${u.code}]: ${u.error}`)];
  const decision = (pass: boolean, reason: string, code?: ErrorCode, identities: AttestationIdentity[] = []): DistributionDecision => ({
    pass,
    ...(code !== undefined ? { code } : {}),
    reason,
    verdict,
    warnings,
    identities,
  });

  if (!verdict.pass) {
    // An attestation that failed verification explains a policy failure better than "missing".
    const broken = evidence.unverified[0];
    if (broken && (verdict.code === 'policy.missing_provenance' || evidence.attestations.length === 0)) {
      return decision(false, `${evidence.filename}: ${broken.error}`, broken.code);
    }
    return decision(false, verdict.reason, verdict.code!);
  }

  // PEP 751: a lock that records who attested a file pins that signer; any accepted signer will not do.
  const wanted = evidence.lockIdentities;
  if (wanted.length > 0 && !evidence.attestations.some((facts) => wanted.some((identity) => identityMatches(identity, facts)))) {
    const signers = evidence.attestations.map((f) => describeIdentity(lockIdentityOf(f))).join('; ') || 'nobody';
    return decision(
      false,
      `${evidence.filename}: the lock file (${evidence.origin}) records attestation-identities ${wanted.map(describeIdentity).join('; ')}, but the provenance is signed by ${signers}`,
      'policy.lock_identity_mismatch',
    );
  }
  const accepted = verdict.attestationIndex !== undefined ? evidence.attestations[verdict.attestationIndex] : undefined;
  return decision(true, verdict.reason, undefined, accepted ? [lockIdentityOf(accepted)] : []);
}
