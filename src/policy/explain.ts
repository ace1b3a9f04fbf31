import { effectiveRule } from './evaluate.ts';
import type { CertificateConditions, Policy } from './types.ts';

/** What the policy demands of one project's files and which lines of the policy say so. */
export interface PolicyExplanation {
  project: string;
  require: string;
  text: string;
}

function at(line: number | undefined): string {
  return line === undefined ? '' : ` (line ${line})`;
}

/** The optional conditions of an entry, as words (empty when it sets none). */
function conditionWords(rule: CertificateConditions): string {
  const parts: string[] = [];
  if (rule.runner) parts.push(`runner ${rule.runner}`);
  if (rule.sourceRef) parts.push(`source ref matching ${rule.sourceRef}`);
  if (rule.predicateType) parts.push(`predicate type ${rule.predicateType}`);
  if (rule.signerDigest) parts.push(`build signer digest ${rule.signerDigest}`);
  return parts.length === 0 ? '' : `; only with ${parts.join(', ')}`;
}

/** Plain-language account of the rule for `project`, for `cairn policy explain NAME`. Pure. */
export function explainPolicy(policy: Policy, project: string): PolicyExplanation {
  const rule = effectiveRule(policy, project);
  const projectRule = policy.projects.get(rule.project);
  const out: string[] = [];
  out.push(`Policy ${policy.source}, project ${rule.project}:`);
  out.push(
    projectRule
      ? `  [projects.${rule.project}]${at(projectRule.line)} applies; values it does not set come from [defaults].`
      : `  No [projects.${rule.project}] table: the [defaults] apply.`,
  );

  const builders = () => {
    if (policy.builders.length === 0) return ['    (none: the policy trusts no builder)'];
    return policy.builders.map((b, i) => `    builders[${i}]${at(b.line)}: issuer ${b.issuer}, identity matching ${b.identity}${conditionWords(b)}`);
  };
  const publishers = () => {
    if (policy.publishers.length === 0) return ['    (none: the policy trusts no publisher)'];
    return policy.publishers.map((p, i) =>
      p.identity !== undefined
        ? `    publishers[${i}]${at(p.line)}: issuer ${p.issuer}, identity matching ${p.identity}${conditionWords(p)}`
        : `    publishers[${i}]${at(p.line)}: issuer ${p.issuer}, repository ${p.repository}${p.workflow ? `, workflow ${p.workflow}` : ', any workflow'}${conditionWords(p)}`,
    );
  };

  switch (rule.require) {
    case 'none':
      out.push(`  require = "none" (${rule.requireFrom}): files are accepted without any provenance. Nothing is verified about who built them.`);
      break;
    case 'build':
      out.push(`  require = "build" (${rule.requireFrom}): every file must carry SLSA build provenance that verifies against the trusted roots and is signed by one of:`);
      out.push(...builders());
      break;
    case 'publish':
      out.push(`  require = "publish" (${rule.requireFrom}): every file must carry a PEP 740 publish attestation that verifies against the trusted roots and is signed by one of:`);
      out.push(...publishers());
      break;
    case 'any':
      out.push(`  require = "any" (${rule.requireFrom}): every file must carry build provenance signed by a trusted builder, or a publish attestation signed by a trusted publisher.`);
      out.push('  Trusted builders:', ...builders(), '  Trusted publishers:', ...publishers());
      break;
  }
  const trustsNobody =
    (rule.require === 'build' && policy.builders.length === 0) ||
    (rule.require === 'publish' && policy.publishers.length === 0) ||
    (rule.require === 'any' && policy.builders.length === 0 && policy.publishers.length === 0);
  if (trustsNobody) out.push(`  Nobody the policy names can satisfy this rule, so every file of ${rule.project} fails (policy.trusts_nobody): the policy fails closed.`);

  if (rule.sourceRepository) {
    out.push(`  source-repository = ${rule.sourceRepository}: the attestation that satisfies the rule must name this repository (build provenance: both its source parameter and the certificate's Source Repository URI, where present).`);
  }
  if (rule.require !== 'none') {
    out.push('  An attestation that verifies but is signed by anyone else does not count: presence of provenance is not trust.');
  }
  const continuity = {
    off: 'signer changes between releases are not checked.',
    warn: 'a release signed by different identities than earlier releases (changed, lost or inconsistent provenance) is reported, not failed.',
    fail: 'a release signed by different identities than earlier releases (changed, lost or inconsistent provenance) fails.',
  }[rule.identityContinuity];
  out.push(`  identity-continuity = "${rule.identityContinuity}" (${rule.continuityFrom}): ${continuity}`);
  out.push(
    rule.failOnStatus.length === 0
      ? `  fail-on-status = [] (${rule.failOnStatusFrom}): a PEP 792 status the index reports is a warning, never a failure.`
      : `  fail-on-status = [${rule.failOnStatus.map((s) => `"${s}"`).join(', ')}] (${rule.failOnStatusFrom}): files fail when the index marks ${rule.project} so (PEP 792); other statuses are warnings.`,
  );
  return { project: rule.project, require: rule.require, text: out.join('\n') };
}
