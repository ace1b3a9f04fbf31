import type { PolicyVerdict } from './types.ts';

/** The verdict fields `cairn verify --json` and the proxy's JSON views share (docs/verify-json.md). */
export function verdictFieldsJson(v: PolicyVerdict | null | undefined): Record<string, unknown> {
  return {
    kind: v?.kind ?? null,
    signer: v?.signer ?? null,
    builder: v?.builder ?? null,
    source_repository: v?.sourceRepository ?? null,
    source_commit: v?.sourceCommit ?? null,
    matched_rule: v?.matchedRule ?? null,
    // PEP 792, as the index reported it; null when it did not (a local file without --index).
    project_status: v?.projectStatus ? { status: v.projectStatus.status, reason: v.projectStatus.reason } : null,
    rule_checks: (v?.ruleChecks ?? []).map((c) => ({ rule: c.rule, line: c.line ?? null, attestation: c.attestationIndex, matched: c.matched, reason: c.reason })),
  };
}
