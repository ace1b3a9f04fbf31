import type { AttestationFacts } from './provenance-object.ts';
import { IN_TOTO_STATEMENT_V1 } from './slsa-provenance.ts';

/**
 * SLSA Verification Summary Attestation (VSA) v1: an in-toto Statement v1 whose predicate says
 * that a verifier checked an artifact against a policy, with which input attestations, and at
 * which SLSA levels. Field names follow the SLSA spec's schema (verification_summary/v1).
 */
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
/** The SLSA version whose level names `verifiedLevels` uses. */
export const VSA_SLSA_VERSION = '1.1';
/** cairn verify's identity as a verifier, unless the caller names another. */
export const CAIRN_VERIFIER_ID = 'https://cairn.dev/verifiers/cairn-verify/v1';

export type VerificationResult = 'PASSED' | 'FAILED';

export interface VsaInput {
  /** The distribution file: the statement's one subject. */
  filename: string;
  sha256: string;
  verifier: { id: string; version?: Record<string, string> };
  timeVerified: Date;
  /** Where the verified artifact was found (its download URL, or a package URL). */
  resourceUri: string;
  policy: { uri: string; digest?: Record<string, string> };
  /** The attestations the decision rested on: where each came from and the digest of its bytes. */
  inputAttestations: { uri: string; digest: Record<string, string> }[];
  verificationResult: VerificationResult;
  /** SLSA track levels (`SLSA_BUILD_LEVEL_2`) and custom values. */
  verifiedLevels: string[];
  /** Levels of the artifact's dependencies, when they were verified. */
  dependencyLevels?: Record<string, number>;
}

/**
 * The SLSA Build level a passing verdict supports, from the attestation that satisfied the
 * policy: authentic build provenance from a trusted builder on a hosted runner is Build L2
 * (signed provenance, hosted platform); on a self-hosted or unnamed runner only L1 (provenance
 * exists); a publish attestation or no provenance says nothing of the build (L0). L3 needs
 * hardened, isolated builds, which a certificate cannot show.
 */
export function verifiedBuildLevel(accepted: AttestationFacts | undefined): string {
  if (!accepted || accepted.kind !== 'build') return 'SLSA_BUILD_LEVEL_0';
  return accepted.runnerEnvironment === 'github-hosted' ? 'SLSA_BUILD_LEVEL_2' : 'SLSA_BUILD_LEVEL_1';
}

/** A package URL (purl, `pkg:pypi/…`) for a distribution file found without a download URL. */
export function distributionPurl(project: string, version: string, filename: string): string {
  return `pkg:pypi/${encodeURIComponent(project)}@${encodeURIComponent(version)}?file_name=${encodeURIComponent(filename)}`;
}

export function verificationSummaryStatement(input: VsaInput): Record<string, unknown> {
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: input.filename, digest: { sha256: input.sha256 } }],
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: input.verifier.id, ...(input.verifier.version ? { version: input.verifier.version } : {}) },
      timeVerified: input.timeVerified.toISOString(),
      resourceUri: input.resourceUri,
      policy: { uri: input.policy.uri, ...(input.policy.digest ? { digest: input.policy.digest } : {}) },
      inputAttestations: input.inputAttestations.map((a) => ({ uri: a.uri, digest: a.digest })),
      verificationResult: input.verificationResult,
      verifiedLevels: input.verifiedLevels,
      ...(input.dependencyLevels ? { dependencyLevels: input.dependencyLevels } : {}),
      slsaVersion: VSA_SLSA_VERSION,
    },
  };
}
