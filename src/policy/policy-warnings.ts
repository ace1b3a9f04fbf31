import type { Policy, RequiredKind } from './types.ts';

/**
 * What a valid policy will do that its author probably did not mean: a rule that requires build
 * provenance while the policy trusts no builder fails every file it covers (it fails closed,
 * `policy.trusts_nobody`). `cairn policy check` says so before `cairn verify` does, file by file.
 */
export function policyWarnings(policy: Policy): string[] {
  const missing = (require: RequiredKind): string | null => {
    if (require === 'build' && policy.builders.length === 0) return 'no [[builders]]';
    if (require === 'publish' && policy.publishers.length === 0) return 'no [[publishers]]';
    if (require === 'any' && policy.builders.length === 0 && policy.publishers.length === 0) return 'no [[builders]] and no [[publishers]]';
    return null;
  };
  const warnings: string[] = [];
  const fallback = missing(policy.defaults.require);
  if (fallback) {
    warnings.push(`[defaults] require = "${policy.defaults.require}" but the policy names ${fallback}: it trusts nobody, so every file fails (policy.trusts_nobody); add the signers you trust`);
  }
  for (const rule of policy.projects.values()) {
    if (rule.require === undefined) continue;
    const none = missing(rule.require);
    if (none) warnings.push(`[projects.${rule.name}] require = "${rule.require}" but the policy names ${none}: every file of ${rule.name} fails (policy.trusts_nobody)`);
  }
  return warnings;
}
