import { CairnError } from '../errors.ts';

/**
 * PEP 792 project status markers. A project always has exactly one; `active` is what a project
 * without a marker has. What each status means to the index is decided here, once.
 */
export const PROJECT_STATUSES = ['active', 'archived', 'quarantined', 'deprecated'] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

export function isProjectStatus(value: unknown): value is ProjectStatus {
  return typeof value === 'string' && (PROJECT_STATUSES as readonly string[]).includes(value);
}

export function parseProjectStatus(value: string): ProjectStatus {
  if (!isProjectStatus(value)) {
    throw new CairnError('usage.invalid_argument', `unknown project status '${value}': use one of ${PROJECT_STATUSES.join(', ')} (PEP 792)`);
  }
  return value;
}

/** PEP 792: archived and quarantined projects MUST NOT accept new distributions. */
export function statusAllowsUploads(status: ProjectStatus): boolean {
  return status === 'active' || status === 'deprecated';
}

/** PEP 792: a quarantined project's distributions MUST NOT be offered for download. */
export function statusServesFiles(status: ProjectStatus): boolean {
  return status !== 'quarantined';
}

/** The `project-status` object of PEP 691 JSON (api-version 1.4); the reason only when there is one. */
export function projectStatusJson(status: ProjectStatus, reason: string | null): { status: ProjectStatus; reason?: string } {
  return reason ? { status, reason } : { status };
}
