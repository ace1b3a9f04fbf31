import type { AttestationReport } from './verify-distribution.ts';

/** One attestation's outcome as `cairn verify --json` and the proxy's JSON views show it; `full` adds build facts. */
export function attestationReportJson(a: AttestationReport, options: { full?: boolean } = {}): Record<string, unknown> {
  const base = {
    source: a.source,
    verified: a.verified,
    code: a.code ?? null,
    error: a.error ?? null,
    kind: a.kind ?? null,
    issuer: a.issuer ?? null,
    identity: a.identity ?? null,
  };
  if (!options.full) return base;
  return {
    ...base,
    builder: a.builder ?? null,
    source_repository: a.sourceRepository ?? null,
    source_commit: a.sourceCommit ?? null,
    log_index: a.logIndex ?? null,
    integrated_time: a.integratedTime ?? null,
  };
}
