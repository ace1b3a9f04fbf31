import type { ErrorCode } from '../errors.ts';
import { normalizeProjectName } from '../formats/project-name.ts';
import type { AttestationFacts } from '../formats/provenance-object.ts';
import { matchesGlob } from './glob.ts';
import type { ProjectStatus } from '../formats/project-status.ts';
import type {
  BuilderRule,
  CertificateConditions,
  ContinuityMode,
  ContinuityReport,
  Policy,
  PolicyInput,
  PolicyVerdict,
  PublisherRule,
  RequiredKind,
  RuleCheck,
  SignerIdentity,
} from './types.ts';

/**
 * Applies a consumer policy to the verified attestations of one distribution file. The input
 * holds only attestations that already verified cryptographically; this module decides whether
 * their signers are ones the consumer trusts. Presence of provenance is never trust: a valid
 * attestation signed by an identity the policy does not name fails like no attestation at all.
 */

/** The rule that applies to a project after `[projects.NAME]` overrides `[defaults]`. */
export interface EffectiveRule {
  project: string;
  require: RequiredKind;
  sourceRepository: string | null;
  identityContinuity: ContinuityMode;
  /** PEP 792 statuses that fail the project's files. */
  failOnStatus: ProjectStatus[];
  /** Where each value comes from, e.g. `[projects.sampleproject]` or `[defaults]`. */
  requireFrom: string;
  continuityFrom: string;
  failOnStatusFrom: string;
}

export function effectiveRule(policy: Policy, project: string): EffectiveRule {
  const name = normalizeProjectName(project);
  const rule = policy.projects.get(name);
  const projectTable = `[projects.${name}]`;
  return {
    project: name,
    require: rule?.require ?? policy.defaults.require,
    sourceRepository: rule?.sourceRepository ?? null,
    identityContinuity: rule?.identityContinuity ?? policy.defaults.identityContinuity,
    failOnStatus: rule?.failOnStatus ?? policy.defaults.failOnStatus,
    requireFrom: rule?.require !== undefined ? projectTable : '[defaults]',
    continuityFrom: rule?.identityContinuity !== undefined ? projectTable : '[defaults]',
    failOnStatusFrom: rule?.failOnStatus !== undefined ? projectTable : '[defaults]',
  };
}

/** Drops the `@ref` of a workflow identity: continuity is about who builds, not which tag. */
export function stableIdentity(identity: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(identity);
  if (!scheme) return identity;
  const pathStart = identity.indexOf('/', scheme[0].length);
  const at = identity.lastIndexOf('@');
  return pathStart >= 0 && at > pathStart ? identity.slice(0, at) : identity;
}

export function signerIdentityOf(facts: AttestationFacts): SignerIdentity {
  return { kind: facts.kind, issuer: facts.issuer, identity: stableIdentity(facts.identity) };
}

function identityKey(s: SignerIdentity): string {
  return `${s.kind}\u0000${s.issuer}\u0000${stableIdentity(s.identity)}`;
}

function uniqueIdentities(list: SignerIdentity[]): SignerIdentity[] {
  const seen = new Map<string, SignerIdentity>();
  for (const s of list) seen.set(identityKey(s), { ...s, identity: stableIdentity(s.identity) });
  return [...seen.values()];
}

function describeIdentities(list: SignerIdentity[]): string {
  return list.length === 0 ? 'none' : list.map((s) => `${s.kind} by ${s.identity}`).join(', ');
}

export function continuityOf(input: PolicyInput): ContinuityReport {
  const current = uniqueIdentities(input.attestations.map(signerIdentityOf));
  const previous = uniqueIdentities(input.previousIdentities ?? []);
  const currentKeys = new Set(current.map(identityKey));
  const previousKeys = new Set(previous.map(identityKey));
  if (input.previousIdentities !== undefined && previous.length > 0) {
    if (current.length === 0) {
      return { status: 'lost', current, previous, message: `earlier releases were signed (${describeIdentities(previous)}) but ${input.filename} carries no provenance` };
    }
    if (![...currentKeys].some((k) => previousKeys.has(k))) {
      return { status: 'changed', current, previous, message: `${input.filename} is signed by ${describeIdentities(current)}, earlier releases by ${describeIdentities(previous)}` };
    }
  }
  for (const sibling of input.siblingIdentities ?? []) {
    const theirs = new Set(uniqueIdentities(sibling.identities).map(identityKey));
    if (theirs.size === 0 && currentKeys.size === 0) continue;
    if (![...theirs].some((k) => currentKeys.has(k))) {
      return {
        status: 'inconsistent',
        current,
        previous,
        message: `${input.filename} (${describeIdentities(current)}) and ${sibling.filename} (${describeIdentities(uniqueIdentities(sibling.identities))}) of the same release share no signer`,
      };
    }
  }
  if (input.previousIdentities === undefined) return { status: 'unknown', current, previous };
  if (previous.length === 0) return { status: 'new', current, previous };
  if ([...currentKeys].every((k) => previousKeys.has(k))) return { status: 'same', current, previous };
  return { status: 'extended', current, previous, message: `${input.filename} adds signers not seen before: ${describeIdentities(current.filter((s) => !previousKeys.has(identityKey(s))))}` };
}

/** Compares repository URLs the way hosts do: scheme/host case, `git+`, `.git` and trailing `/` do not matter. */
export function normalizeRepositoryUrl(url: string): string {
  let u = url.trim().replace(/^git\+/, '');
  u = u.replace(/\/+$/, '').replace(/\.git$/, '');
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/]+)(.*)$/i.exec(u);
  if (!m) return u;
  const host = m[2]!.toLowerCase();
  // GitHub and GitLab treat owner and repository names case-insensitively.
  const path = host === 'github.com' || host === 'gitlab.com' ? m[3]!.toLowerCase() : m[3]!;
  return `${m[1]!.toLowerCase()}://${host}${path}`;
}

/** OWNER/REPO of the repository a publish attestation's certificate names. */
function repositoryPathOf(facts: AttestationFacts): string | null {
  const uri = facts.sourceRepositoryUri;
  if (uri) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/(.+?)(?:\.git)?\/*$/i.exec(uri);
    if (m) return m[1]!;
  }
  const fromIdentity = /^https:\/\/github\.com\/([^/]+\/[^/]+)\/\.github\/workflows\//.exec(facts.identity);
  return fromIdentity?.[1] ?? null;
}

/** The workflow file of the publishing run: the caller's (top-level) workflow, as PyPI's trusted publishers name it. */
function workflowOf(facts: AttestationFacts): string | null {
  const uri = facts.buildConfigUri ?? facts.identity;
  const withoutRef = uri.includes('@') ? uri.slice(0, uri.lastIndexOf('@')) : uri;
  const file = withoutRef.slice(withoutRef.lastIndexOf('/') + 1);
  return file === '' ? null : file;
}

/** Null when every condition the entry sets holds for the attestation; else the first that does not. */
function conditionProblem(rule: CertificateConditions, facts: AttestationFacts): string | null {
  if (rule.runner !== undefined && facts.runnerEnvironment !== rule.runner) {
    return facts.runnerEnvironment === null
      ? `runner = "${rule.runner}", but the certificate names no runner environment`
      : `runner = "${rule.runner}", but the certificate says ${facts.runnerEnvironment}`;
  }
  if (rule.sourceRef !== undefined && (facts.sourceRepositoryRef === null || !matchesGlob(rule.sourceRef, facts.sourceRepositoryRef))) {
    return facts.sourceRepositoryRef === null
      ? `source-ref = "${rule.sourceRef}", but the certificate names no source repository ref`
      : `source-ref = "${rule.sourceRef}" does not match the certificate's ref ${facts.sourceRepositoryRef}`;
  }
  if (rule.predicateType !== undefined && facts.predicateType !== rule.predicateType) {
    return `predicate-type = "${rule.predicateType}", but the statement's is ${facts.predicateType}`;
  }
  if (rule.signerDigest !== undefined && facts.buildSignerDigest?.toLowerCase() !== rule.signerDigest.toLowerCase()) {
    return facts.buildSignerDigest === null
      ? `signer-digest = "${rule.signerDigest}", but the certificate names no build signer digest`
      : `signer-digest = "${rule.signerDigest}", but the certificate's is ${facts.buildSignerDigest}`;
  }
  return null;
}

function builderProblem(rule: BuilderRule, facts: AttestationFacts): string | null {
  if (facts.issuer !== rule.issuer) return `issuer ${facts.issuer} is not ${rule.issuer}`;
  if (!matchesGlob(rule.identity, facts.identity)) return `identity ${facts.identity} does not match ${rule.identity}`;
  return conditionProblem(rule, facts);
}

function publisherProblem(rule: PublisherRule, facts: AttestationFacts): string | null {
  if (facts.issuer !== rule.issuer) return `issuer ${facts.issuer} is not ${rule.issuer}`;
  if (rule.identity !== undefined) {
    if (!matchesGlob(rule.identity, facts.identity)) return `identity ${facts.identity} does not match ${rule.identity}`;
    return conditionProblem(rule, facts);
  }
  if (rule.repository === undefined) return 'the entry names no repository';
  const repository = repositoryPathOf(facts);
  if (repository === null) return 'the certificate names no source repository';
  if (!matchesGlob(rule.repository, repository, { caseInsensitive: true })) return `repository ${repository} does not match ${rule.repository}`;
  if (rule.workflow !== undefined) {
    const workflow = workflowOf(facts);
    if (workflow === null || !matchesGlob(rule.workflow, workflow)) return `workflow ${workflow ?? '(none)'} does not match ${rule.workflow}`;
  }
  return conditionProblem(rule, facts);
}

/** Repositories an attestation names: the statement's source and the certificate's Source Repository URI. */
function namedRepositories(facts: AttestationFacts): string[] {
  const named = facts.kind === 'build' ? [facts.statementRepository, facts.sourceRepositoryUri] : [facts.sourceRepositoryUri];
  return named.filter((r): r is string => typeof r === 'string' && r !== '');
}

function sourceProblem(expected: string, facts: AttestationFacts): string | null {
  const named = namedRepositories(facts);
  if (named.length === 0) return `its ${facts.kind} attestation names no source repository, the policy requires ${expected}`;
  const want = normalizeRepositoryUrl(expected);
  const other = named.find((r) => normalizeRepositoryUrl(r) !== want);
  return other === undefined ? null : `its ${facts.kind} attestation names source repository ${other}, the policy requires ${expected}`;
}

function describeFacts(facts: AttestationFacts, index: number): Partial<PolicyVerdict> {
  // The certificate's facts first: the statement's builder.id is the signer's own claim.
  const builder = facts.buildSignerUri ?? undefined;
  const sourceRepository = facts.sourceRepositoryUri ?? facts.statementRepository ?? undefined;
  const sourceCommit = facts.sourceRepositoryDigest ?? facts.statementCommit ?? undefined;
  return {
    kind: facts.kind,
    signer: { issuer: facts.issuer, identity: facts.identity },
    ...(builder !== undefined ? { builder } : {}),
    ...(sourceRepository !== undefined ? { sourceRepository } : {}),
    ...(sourceCommit !== undefined ? { sourceCommit } : {}),
    attestationIndex: index,
  };
}

const KIND_WORDS: Record<Exclude<RequiredKind, 'none'>, string> = {
  build: 'build provenance',
  publish: 'a publish attestation',
  any: 'build provenance or a publish attestation',
};

interface Candidate {
  index: number;
  facts: AttestationFacts;
  matchedRule: string | null;
  problem: string | null;
}

function candidatesFor(policy: Policy, rule: EffectiveRule, attestations: AttestationFacts[], checks: RuleCheck[]): Candidate[] {
  const kinds = rule.require === 'any' ? ['build', 'publish'] : [rule.require];
  const out: Candidate[] = [];
  attestations.forEach((facts, index) => {
    if (!kinds.includes(facts.kind)) return;
    let matchedRule: string | null = null;
    const entries =
      facts.kind === 'build'
        ? policy.builders.map((b, i) => ({ name: `builders[${i}]`, line: b.line, problem: () => builderProblem(b, facts) }))
        : policy.publishers.map((p, i) => ({ name: `publishers[${i}]`, line: p.line, problem: () => publisherProblem(p, facts) }));
    for (const entry of entries) {
      const problem = entry.problem();
      checks.push({
        rule: entry.name,
        ...(entry.line !== undefined ? { line: entry.line } : {}),
        attestationIndex: index,
        matched: problem === null,
        reason: problem ?? `${facts.kind} attestation signed by ${facts.identity} (${facts.issuer}) meets every condition`,
      });
      if (problem === null) {
        matchedRule = entry.name;
        break;
      }
    }
    const problem = matchedRule !== null && rule.sourceRepository !== null ? sourceProblem(rule.sourceRepository, facts) : null;
    out.push({ index, facts, matchedRule, problem });
  });
  return out;
}

function trustsNobody(policy: Policy, require: RequiredKind): boolean {
  if (require === 'build') return policy.builders.length === 0;
  if (require === 'publish') return policy.publishers.length === 0;
  if (require === 'any') return policy.builders.length === 0 && policy.publishers.length === 0;
  return false;
}

function untrustedCode(kind: AttestationFacts['kind']): ErrorCode {
  return kind === 'publish' ? 'policy.untrusted_publisher' : 'policy.untrusted_builder';
}

/** Decides whether one distribution file's verified attestations satisfy the policy. Pure. */
export function evaluatePolicy(policy: Policy, input: PolicyInput): PolicyVerdict {
  const rule = effectiveRule(policy, input.project);
  const continuity = continuityOf(input);
  const warnings: string[] = [];
  const ruleChecks: RuleCheck[] = [];
  const base = { required: rule.require, continuity, warnings, ruleChecks, ...(input.projectStatus ? { projectStatus: input.projectStatus } : {}) };

  const verdict = ((): PolicyVerdict => {
    if (rule.require === 'none') {
      const first = input.attestations[0];
      return { ...base, ...(first ? describeFacts(first, 0) : {}), pass: true, reason: `${rule.requireFrom} requires no provenance for ${rule.project}` };
    }
    if (trustsNobody(policy, rule.require)) {
      const missing = rule.require === 'build' ? 'no [[builders]]' : rule.require === 'publish' ? 'no [[publishers]]' : 'no [[builders]] and no [[publishers]]';
      return {
        ...base,
        pass: false,
        code: 'policy.trusts_nobody',
        reason: `the policy ${policy.source} names ${missing}, so nothing can satisfy require = "${rule.require}" (${rule.requireFrom}) for ${rule.project}; failing closed — add the signers you trust`,
      };
    }
    const candidates = candidatesFor(policy, rule, input.attestations, ruleChecks);
    const good = candidates.find((c) => c.matchedRule !== null && c.problem === null);
    if (good) {
      return {
        ...base,
        ...describeFacts(good.facts, good.index),
        pass: true,
        matchedRule: good.matchedRule!,
        reason: `${good.facts.kind} attestation signed by ${good.facts.identity} (${good.facts.issuer}) is trusted by ${good.matchedRule}${rule.sourceRepository ? ` and names ${rule.sourceRepository}` : ''}`,
      };
    }
    const wrongSource = candidates.find((c) => c.matchedRule !== null && c.problem !== null);
    if (wrongSource) {
      return { ...base, ...describeFacts(wrongSource.facts, wrongSource.index), pass: false, code: 'policy.source_mismatch', matchedRule: wrongSource.matchedRule!, reason: `${input.filename}: ${wrongSource.problem}` };
    }
    const untrusted = candidates[0];
    if (untrusted) {
      const list = untrusted.facts.kind === 'build' ? '[[builders]]' : '[[publishers]]';
      const others = candidates.length > 1 ? ` (and ${candidates.length - 1} other attestation${candidates.length > 2 ? 's' : ''} by untrusted signers)` : '';
      return {
        ...base,
        ...describeFacts(untrusted.facts, untrusted.index),
        pass: false,
        code: untrustedCode(untrusted.facts.kind),
        reason: `${input.filename}: ${untrusted.facts.kind} attestation signed by ${untrusted.facts.identity} (issuer ${untrusted.facts.issuer}) matches no ${list} entry of the policy${others}`,
      };
    }
    const present = input.attestations.length === 0 ? 'carries no verified attestation' : `carries only ${[...new Set(input.attestations.map((a) => a.kind))].join(' and ')} attestations`;
    return {
      ...base,
      ...(input.attestations[0] ? describeFacts(input.attestations[0], 0) : {}),
      pass: false,
      code: 'policy.missing_provenance',
      reason: `${input.filename} ${present}; ${rule.requireFrom} requires ${KIND_WORDS[rule.require]} for ${rule.project}`,
    };
  })();

  const status = input.projectStatus;
  if (status && status.status !== 'active') {
    const why = status.reason ? ` (${status.reason})` : '';
    if (rule.failOnStatus.includes(status.status) && verdict.pass) {
      return {
        ...verdict,
        pass: false,
        code: 'policy.project_status',
        reason: `the index marks ${rule.project} ${status.status}${why} (PEP 792), and ${rule.failOnStatusFrom} fail-on-status lists it`,
      };
    }
    warnings.push(`the index marks ${rule.project} ${status.status}${why} (PEP 792)`);
  }

  const broken = continuity.status === 'changed' || continuity.status === 'lost' || continuity.status === 'inconsistent';
  if (broken && rule.identityContinuity === 'fail' && verdict.pass) {
    return { ...verdict, pass: false, code: 'policy.identity_changed', reason: `identity continuity (${rule.continuityFrom} identity-continuity = "fail"): ${continuity.message ?? continuity.status}` };
  }
  if ((broken || continuity.status === 'extended') && rule.identityContinuity !== 'off' && continuity.message) {
    warnings.push(`identity continuity ${continuity.status}: ${continuity.message}`);
  }
  return verdict;
}
