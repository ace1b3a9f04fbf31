import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.ts';
import { RENDERER_VERSION, rootChunkOf, type PageRenderer, type RenderedProject } from './page-renderer.ts';
import type { PageStore } from './page-store.ts';

/** What a committed change leaves for this process to drop from its caches. */
export interface RecordedChange {
  normalizedName: string;
  /** The root chunk that was re-rendered (a new project), else null. */
  chunk: number | null;
}

/** A distribution file as derived data needs it (TUF lists the file and its PEP 658 metadata). */
export interface AddedFile {
  id: number;
  filename: string;
  sha256: string;
  size: number;
  blake2b256: string;
  coreMetadataSha256: string;
  /** Bytes of the core metadata served at `<file URL>.metadata`. */
  coreMetadataLength: number;
}

export interface RemovedFile {
  id: number;
  filename: string;
  sha256: string;
}

/**
 * Derived data kept beside the catalogue (TUF targets, dependent rows), told inside the very
 * transaction that changed the catalogue, so both commit or neither does.
 */
export interface CatalogueListener {
  filesAdded?(trx: Kysely<Database>, files: readonly AddedFile[]): Promise<void>;
  filesRemoved?(trx: Kysely<Database>, files: readonly RemovedFile[]): Promise<void>;
  /** Pages rendered in this transaction, many projects at a time (an import's batch). */
  pagesRendered?(trx: Kysely<Database>, rendered: readonly RenderedProject[]): Promise<void>;
}

const RENDER_STATE_KEY = 'pages.renderer';
/**
 * Projects rendered together: enough that per-statement round trips stop mattering, few enough
 * that on SQLite (whose statements run on the event loop) one group is a short stall.
 */
const PROJECTS_PER_RENDER = 64;

/**
 * The one place a change to a project becomes visible: every transaction that changes what a
 * project's pages show (upload, yank, delete, provenance bound, a new project) calls
 * `projectChanged` before it commits, so the pages, the root and the journal commit with the
 * change itself, and `published` after the commit.
 */
export class CatalogueChanges {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly renderer: PageRenderer,
    private readonly store: PageStore,
    private readonly clock: () => Date,
    private readonly baseUrl: string | null,
    private readonly listeners: readonly CatalogueListener[] = [],
    /** Told after every commit that changed the catalogue (the TUF repository refreshes soon after). */
    private readonly onPublished: () => void = () => undefined,
    /** Told which projects changed after every commit (a shared cache's purge hook). */
    private readonly afterCommit: (changes: readonly RecordedChange[]) => void = () => undefined,
  ) {}

  /** Files inserted by an upload or an import, inside its transaction. */
  async filesAdded(trx: Kysely<Database>, files: readonly AddedFile[]): Promise<void> {
    for (const listener of this.listeners) await listener.filesAdded?.(trx, files);
  }

  /** Files about to be deleted (a release deleted), inside that transaction, before the rows go. */
  async filesRemoved(trx: Kysely<Database>, files: readonly RemovedFile[]): Promise<void> {
    for (const listener of this.listeners) await listener.filesRemoved?.(trx, files);
  }

  /**
   * Bumps the project's serial (which also takes its row lock, so concurrent changes to one
   * project render one after another), renders its pages, and journals the change.
   */
  async projectChanged(trx: Kysely<Database>, projectId: number, options: { created?: boolean; listingChanged?: boolean } = {}): Promise<RecordedChange> {
    const [change] = await this.projectsChanged(trx, [{ projectId, created: options.created === true || options.listingChanged === true }]);
    return change!;
  }

  /**
   * `created` (or, from `projectChanged`, `listingChanged`: a status change that hides or shows the
   * project in `/simple/`) re-renders the project's root chunk.
   * `projectChanged` for every project one transaction changed (a bulk import's batch): each
   * project is rendered once, a group of projects at a time with a few statements per group, and
   * each root chunk that gained projects once, not once per project. `between` runs after each
   * group (a long batch lets its event loop turn there).
   */
  async projectsChanged(
    trx: Kysely<Database>,
    projects: readonly { projectId: number; created: boolean }[],
    options: { between?: () => Promise<void> } = {},
  ): Promise<RecordedChange[]> {
    const createdById = new Map<number, boolean>();
    for (const { projectId, created } of projects) createdById.set(projectId, createdById.get(projectId) === true || created);
    const ids = [...createdById.keys()];
    const recorded: RecordedChange[] = [];
    const chunks = new Set<number>();
    for (let i = 0; i < ids.length; i += PROJECTS_PER_RENDER) {
      if (i > 0) await options.between?.();
      const group = ids.slice(i, i + PROJECTS_PER_RENDER);
      // Takes the projects' row locks too, so concurrent changes to one project render one after another.
      await trx.updateTable('projects').set((eb) => ({ serial: eb('serial', '+', 1) })).where('id', 'in', group).execute();
      const rendered = await this.renderer.renderProjects(trx, group);
      for (const listener of this.listeners) await listener.pagesRendered?.(trx, rendered);
      group.forEach((projectId, j) => {
        const chunk = createdById.get(projectId) ? rootChunkOf(projectId) : null;
        if (chunk !== null) chunks.add(chunk);
        recorded.push({ normalizedName: rendered[j]!.normalizedName, chunk });
      });
    }
    for (const chunk of chunks) await this.renderer.renderRootChunk(trx, chunk);
    const changedAt = this.clock().toISOString();
    for (let i = 0; i < recorded.length; i += 500) {
      await trx
        .insertInto('page_changes')
        .values(recorded.slice(i, i + 500).map(({ normalizedName, chunk }) => ({ normalized_name: normalizedName, chunk, changed_at: changedAt })))
        .execute();
    }
    return recorded;
  }

  /** After the commit: this process stops serving what it cached of the changed pages at once. */
  published(...changes: RecordedChange[]): void {
    if (changes.length > 0) this.onPublished();
    for (const change of changes) {
      this.store.evictProject(change.normalizedName);
      if (change.chunk !== null) this.store.evictRootChunk(change.chunk);
    }
    if (changes.length > 0) this.afterCommit(changes);
  }

  /**
   * Renders what is missing or was made by another renderer or for another base URL: every page
   * after an upgrade, none on a normal start. Runs in batches, each its own transaction.
   */
  async renderStale(onProgress?: (done: number) => void): Promise<number> {
    const fingerprint = JSON.stringify({ renderer: RENDERER_VERSION, baseUrl: this.baseUrl });
    const state = await this.db.selectFrom('derived_state').select('value').where('key', '=', RENDER_STATE_KEY).executeTakeFirst();
    const everything = state?.value !== fingerprint;
    let done = 0;
    let after = 0;
    for (;;) {
      let query = this.db.selectFrom('projects').select('id').where('id', '>', after).orderBy('id').limit(500);
      if (!everything) {
        query = query.where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('rendered_pages').select('kind').whereRef('rendered_pages.normalized_name', '=', 'projects.normalized_name').where('kind', '=', 'simple-html'))),
        );
      }
      const batch = await query.execute();
      if (batch.length === 0) break;
      const changes = await this.db.transaction().execute(async (trx) => {
        return this.projectsChanged(
          trx,
          batch.map(({ id }) => ({ projectId: id, created: false })),
        );
      });
      this.published(...changes);
      done += batch.length;
      onProgress?.(done);
      after = batch[batch.length - 1]!.id;
    }
    await this.renderRootChunks(everything);
    await this.db
      .insertInto('derived_state')
      .values({ key: RENDER_STATE_KEY, value: fingerprint })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: fingerprint }))
      .execute();
    return done;
  }

  /** Root chunks for every id range that holds projects; all of them, or only those never rendered. */
  private async renderRootChunks(everything: boolean): Promise<void> {
    const max = await this.db.selectFrom('projects').select((eb) => eb.fn.max('id').as('high')).executeTakeFirst();
    const lastChunk = rootChunkOf(Number(max?.high ?? 0));
    const existing = new Set((await this.db.selectFrom('root_chunks').select('chunk').execute()).map((r) => r.chunk));
    for (let chunk = 0; chunk <= lastChunk; chunk++) {
      if (!everything && existing.has(chunk)) continue;
      await this.db.transaction().execute(async (trx) => {
        await this.renderer.renderRootChunk(trx, chunk);
        await trx.insertInto('page_changes').values({ normalized_name: null, chunk, changed_at: this.clock().toISOString() }).execute();
      });
      this.store.evictRootChunk(chunk);
    }
  }
}
