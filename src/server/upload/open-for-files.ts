import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { statusAllowsUploads } from '../../formats/project-status.ts';
import type { Database } from '../storage/schema.ts';

/**
 * Refuses a new file for a project whose PEP 792 status takes none (archived, quarantined) and
 * for a release past the closing age (after a compromise, an attacker with a stolen token must
 * not slip a file into an old, trusted release). Both the legacy upload and publishing sessions
 * ask it, before anything is stored and again inside the transaction that makes a file public,
 * where a status set meanwhile is seen. A project or release that does not exist yet is open.
 */
export async function assertOpenForFiles(
  db: Kysely<Database>,
  target: { normalizedName: string; version: string; filename: string },
  rules: { now: Date; releaseCloseDays: number },
): Promise<void> {
  const project = await db.selectFrom('projects').select(['id', 'name', 'status', 'status_reason']).where('normalized_name', '=', target.normalizedName).executeTakeFirst();
  if (!project) return;
  if (!statusAllowsUploads(project.status)) {
    const why = project.status_reason ? ` (${project.status_reason})` : '';
    throw new CairnError(
      project.status === 'quarantined' ? 'upload.project_quarantined' : 'upload.project_archived',
      `Project '${project.name}' is ${project.status}${why} and accepts no new files (PEP 792); an index operator can set it active again`,
    );
  }
  if (rules.releaseCloseDays === 0) return;
  const release = await db.selectFrom('releases').select('created_at').where('project_id', '=', project.id).where('version', '=', target.version).executeTakeFirst();
  if (!release) return;
  const closesAt = Date.parse(release.created_at) + rules.releaseCloseDays * 86_400_000;
  if (rules.now.getTime() >= closesAt) {
    throw new CairnError(
      'upload.release_closed',
      `Release ${project.name} ${target.version} was created ${release.created_at} and closed for new files after ${rules.releaseCloseDays} days; upload ${target.filename} in a new version`,
      { closed_after_days: rules.releaseCloseDays, release_created_at: release.created_at },
    );
  }
}
