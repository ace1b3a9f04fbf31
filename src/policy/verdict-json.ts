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
  };
}
