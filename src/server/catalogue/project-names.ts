import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { normalizeProjectName, ultranormalizeProjectName } from '../../formats/project-name.ts';
import { ULTRANORMALIZED_NAME_SQL } from '../storage/migrations.ts';
import type { Database } from '../storage/schema.ts';

/**
 * Refuses a new project whose name a reader would take for an existing one (`examp1e` beside
 * `example`, `foo-bar` beside `foobar`), as PyPI does: the names' ultranormalized forms are equal
 * while their PEP 503 forms differ. One lookup on the expression index of migration 0008.
 */
export async function assertNotConfusable(db: Kysely<Database>, name: string): Promise<void> {
  const normalized = normalizeProjectName(name);
  const lookalike = await db
    .selectFrom('projects')
    .select(['name', 'normalized_name'])
    .where(ULTRANORMALIZED_NAME_SQL, '=', ultranormalizeProjectName(name))
    .where('normalized_name', '!=', normalized)
    .orderBy('id')
    .executeTakeFirst();
  if (lookalike) {
    throw new CairnError('name.confusable', `The name '${name}' is too similar to the existing project '${lookalike.name}': choose a name that does not read like another project's`, {
      existing: lookalike.name,
    });
  }
}

/**
 * Refuses to create a name a pending trusted publisher is waiting for: only that publisher's first
 * exchange may create it, or an API token holder could take the project a CI workflow is about to
 * publish to (issue 11). The operator removes the pending publisher to free the name.
 */
export async function assertNotAwaitedByPublisher(db: Kysely<Database>, name: string): Promise<void> {
  const normalized = normalizeProjectName(name);
  const pending = await db.selectFrom('trusted_publishers').select('pending_project_name').where('project_id', 'is', null).execute();
  if (pending.some((p) => p.pending_project_name !== null && normalizeProjectName(p.pending_project_name) === normalized)) {
    throw new CairnError(
      'project.reserved',
      `The project '${name}' is reserved for a pending trusted publisher: it is created by that publisher's first upload (trusted publishing), not with an API token`,
    );
  }
}
