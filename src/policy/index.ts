/**
 * The consumer policy (DESIGN §10): parse and validate (`parsePolicy`; `loadPolicy` in src/client reads a
 * file), decide (`evaluatePolicy`), explain (`explainPolicy`), and the example `cairn policy init` writes.
 */
export { parsePolicy, DEFAULT_CONTINUITY, DEFAULT_REQUIRE } from './policy-file.ts';
export { evaluatePolicy, effectiveRule, continuityOf, signerIdentityOf, stableIdentity, normalizeRepositoryUrl, type EffectiveRule } from './evaluate.ts';
export { explainPolicy } from './explain.ts';
export { policyWarnings } from './policy-warnings.ts';
export { decideDistribution, type DistributionDecision, type DistributionEvidence, type UnverifiedAttestation } from './decide-distribution.ts';
export { describeIdentity, identityMatches, lockIdentityOf } from './lock-identities.ts';
export { EXAMPLE_POLICY } from './example.ts';
export { matchesGlob, globToRegExp } from './glob.ts';
export type {
  BuilderRule,
  ContinuityMode,
  ContinuityReport,
  ContinuityStatus,
  LoadPolicyOptions,
  Policy,
  PolicyInput,
  PolicyVerdict,
  ProjectRule,
  PublisherRule,
  RequiredKind,
  SignerIdentity,
} from './types.ts';
