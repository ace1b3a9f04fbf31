import { verdictFieldsJson } from '../../policy/verdict-json.ts';
import { attestationReportJson } from '../verify/report-json.ts';
import type { ProxyProjectView } from './verifying-proxy.ts';

/**
 * `/project/{name}/?format=json`: the proxy's verdict for every upstream file, in the snake_case
 * field names of `cairn verify --json` (docs/verify-json.md), so one tool reads both.
 */
export function proxyViewJson(view: ProxyProjectView, policySource: string): Record<string, unknown> {
  return {
    version: 1,
    project: view.project,
    name: view.name,
    policy: policySource,
    upstream_page: view.upstreamPageUrl,
    checked_at: view.checkedAt,
    listed: view.files.filter((f) => f.status === 'listed').length,
    hidden: view.files.filter((f) => f.status === 'hidden').length,
    files: view.files.map((f) => {
      const v = f.result?.verdict ?? null;
      return {
        filename: f.filename,
        version: f.version,
        sha256: f.sha256,
        status: f.status,
        code: f.code,
        reason: f.reason,
        yanked: f.yanked,
        ...verdictFieldsJson(v),
        warnings: f.result?.warnings ?? [],
        attestations: (f.result?.attestations ?? []).map((a) => attestationReportJson(a)),
      };
    }),
  };
}
