/**
 * cairn as a library (package.json "exports"): the consumer-side checks other tools can embed.
 * See docs/library-api.md.
 */
export { evaluatePolicy, explainPolicy, parsePolicy } from './policy/index.ts';
export { loadPolicy } from './client/load-policy.ts';
export type * from './policy/types.ts';
export { createVerifySession, verifyDistribution, verifyTargets } from './client/verify/index.ts';
export type { AttestationReport, DistributionRequest, DistributionResult, ResultStatus, VerifyOptions, VerifyRun } from './client/verify/index.ts';
export type { AttestationFacts } from './formats/provenance-object.ts';
export { parseTrustedRoot, publicGoodTrustedRoot, type TrustedRootJson } from './trust/trusted-roots.ts';
export { CairnError, type ErrorCode } from './errors.ts';
export { VerifyingProxy, formatProxyEvent } from './client/proxy/index.ts';
export type { HiddenFileRecord, ProxyEvent, ProxyFileEntry, ProxyOptions, ProxyProjectView } from './client/proxy/index.ts';
