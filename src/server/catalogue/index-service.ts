import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { assertValidProjectName, normalizeProjectName } from '../../formats/project-name.ts';
import { assertNotConfusable } from './project-names.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import type { ProjectStatus } from '../../formats/project-status.ts';
import type { CatalogueChanges } from '../pages/catalogue-changes.ts';
import type { Database, FileRow, ProjectRow, ReleaseRow } from '../storage/schema.ts';
import { readCatalogueCounts, type CatalogueCounts } from './catalogue-counts.ts';

/** A file row without its (possibly large) core metadata text. */
export type FileSummary = Omit<FileRow, 'core_metadata'>;


export const FILE_SUMMARY_COLUMNS = [
  'id',
  'project_id',
  'release_id',
  'filename',
  'packagetype',
  'python_version',
  'size',
  'sha256',
  'md5',
  'blake2b_256',
  'requires_python',
  'core_metadata_sha256',
  'upload_time',
  'uploaded_by_token_id',
] as const;

/** Read side of the index plus the operator actions on projects and releases. */
export class IndexService {
  constructor(
    private readonly db: Kysely<Database>,
    /** Re-renders a changed project's pages inside the change's own transaction. */
    private readonly changes: CatalogueChanges,
  ) {}

  /** A project by any spelling of its name (PEP 503 normalisation). */
  async findProject(name: string): Promise<ProjectRow | undefined> {
    return this.db.selectFrom('projects').selectAll().where('normalized_name', '=', normalizeProjectName(name)).executeTakeFirst();
  }

  async createProject(name: string, now: Date): Promise<ProjectRow> {
    assertValidProjectName(name);
    const normalized = normalizeProjectName(name);
    if (await this.findProject(normalized)) {
      throw new CairnError('project.exists', `project '${name}' already exists (as '${normalized}')`);
    }
    // The operator may create a name a pending publisher waits for (and then add the publisher
    // to the project), but not one that reads like another project's.
    await assertNotConfusable(this.db, name);
    const { project, change } = await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('projects')
        .values({ name, normalized_name: normalized, created_at: now.toISOString(), serial: 1 })
        .returningAll()
        .executeTakeFirstOrThrow();
      const recorded = await this.changes.projectChanged(trx, inserted.id, { created: true });
      return { project: inserted, change: recorded };
    });
    this.changes.published(change);
    return project;
  }

  async fileByName(filename: string): Promise<FileSummary | undefined> {
    return this.db.selectFrom('files').select(FILE_SUMMARY_COLUMNS).where('filename', '=', filename).executeTakeFirst();
  }

  /** The file, only if it belongs to that project and version (URLs name all three). */
  async fileInRelease(project: string, version: string, filename: string): Promise<FileSummary | undefined> {
    const file = await this.fileByName(filename);
    if (!file) return undefined;
    const owner = await this.db
      .selectFrom('releases')
      .innerJoin('projects', 'projects.id', 'releases.project_id')
      .select(['projects.normalized_name', 'releases.version'])
      .where('releases.id', '=', file.release_id)
      .executeTakeFirst();
    const matches = owner?.normalized_name === normalizeProjectName(project) && owner.version === normalizeVersion(version);
    return matches ? file : undefined;
  }

  /**
   * A file to download, with its project's PEP 792 status (a quarantined project's files are
   * refused), in one statement: downloads are the hot path.
   */
  async fileForDownload(filename: string): Promise<(FileSummary & { project: { name: string; status: ProjectStatus; reason: string | null } }) | undefined> {
    const row = await this.db
      .selectFrom('files')
      .innerJoin('projects', 'projects.id', 'files.project_id')
      .select(FILE_SUMMARY_COLUMNS.map((c) => `files.${c}` as const))
      .select(['projects.name as project_name', 'projects.status as project_status', 'projects.status_reason as project_status_reason'])
      .where('files.filename', '=', filename)
      .executeTakeFirst();
    if (!row) return undefined;
    const { project_name, project_status, project_status_reason, ...file } = row;
    return { ...file, project: { name: project_name, status: project_status, reason: project_status_reason } };
  }

  async coreMetadataOf(filename: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('files')
      .select('core_metadata')
      .where('filename', '=', filename)
      .executeTakeFirst();
    return row?.core_metadata;
  }

  /** PEP 592: a yanked release stays installable by exact pin but is skipped by resolvers. */
  async setYanked(name: string, version: string, yanked: boolean, reason: string | null): Promise<ReleaseRow> {
    const project = await this.findProject(name);
    if (!project) throw new CairnError('project.not_found', `no project named '${name}'`);
    const normalizedVersion = normalizeVersion(version);
    const { release, change } = await this.db.transaction().execute(async (trx) => {
      const release = await trx
        .updateTable('releases')
        .set({ yanked: yanked ? 1 : 0, yanked_reason: yanked ? reason : null })
        .where('project_id', '=', project.id)
        .where('version', '=', normalizedVersion)
        .returningAll()
        .executeTakeFirst();
      if (!release) throw new CairnError('release.not_found', `project '${project.name}' has no release ${normalizedVersion}`);
      return { release, change: await this.changes.projectChanged(trx, project.id) };
    });
    this.changes.published(change);
    return release;
  }

  /**
   * Sets the PEP 792 status. The project's pages and its `/simple/` root chunk are rendered again
   * in the same transaction (quarantine hides it from the root), so the TUF metadata that lists
   * those pages follows.
   */
  async setProjectStatus(name: string, status: ProjectStatus, reason: string | null, now: Date): Promise<ProjectRow> {
    const project = await this.findProject(name);
    if (!project) throw new CairnError('project.not_found', `no project named '${name}'`);
    const { row, change } = await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('projects')
        .set({ status, status_reason: reason, status_changed_at: now.toISOString() })
        .where('id', '=', project.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { row: updated, change: await this.changes.projectChanged(trx, project.id, { listingChanged: true }) };
    });
    this.changes.published(change);
    return row;
  }

  /**
   * Removes a release and its files. Their filenames stay burned (PyPI semantics), so the same
   * name can never be reused for other bytes. Returns the digests whose blobs became unreferenced.
   */
  async deleteRelease(name: string, version: string): Promise<{ filenames: string[]; orphanedBlobs: string[] }> {
    const project = await this.findProject(name);
    if (!project) throw new CairnError('project.not_found', `no project named '${name}'`);
    const normalizedVersion = normalizeVersion(version);
    const { removed, change } = await this.db.transaction().execute(async (trx) => {
      const release = await trx
        .selectFrom('releases')
        .select('id')
        .where('project_id', '=', project.id)
        .where('version', '=', normalizedVersion)
        .executeTakeFirst();
      if (!release) throw new CairnError('release.not_found', `project '${project.name}' has no release ${normalizedVersion}`);
      const files = await trx.selectFrom('files').select(['id', 'filename', 'sha256']).where('release_id', '=', release.id).execute();
      await this.changes.filesRemoved(trx, files);
      await trx.deleteFrom('files').where('release_id', '=', release.id).execute();
      await trx.deleteFrom('releases').where('id', '=', release.id).execute();
      const change = await this.changes.projectChanged(trx, project.id);
      return { removed: { filenames: files.map((f) => f.filename), orphanedBlobs: files.map((f) => f.sha256) }, change };
    });
    this.changes.published(change);
    return removed;
  }

  /** The catalogue's size (projects, releases, files, bound attestations), for `/metrics`. */
  counts(): Promise<CatalogueCounts> {
    return readCatalogueCounts(this.db);
  }
}
