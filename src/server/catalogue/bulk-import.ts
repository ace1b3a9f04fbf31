import { availableParallelism } from 'node:os';
import type { Kysely } from 'kysely';
import type { ErrorCode } from '../../errors.ts';
import type { AddedFile, CatalogueChanges, RecordedChange } from '../pages/catalogue-changes.ts';
import type { BlobStore, StagedBlob } from '../storage/blob-store.ts';
import { isUniqueViolation } from '../storage/database.ts';
import type { DialectName } from '../storage/migrations.ts';
import type { Database } from '../storage/schema.ts';
import type { UploadService } from '../upload/upload-service.ts';
import type { AnalysedDistribution } from './distribution-analysis.ts';
import { AnalysisPool, type AnalysedEntry } from './import-pool.ts';
import { ImportStatistics } from './import-statistics.ts';
import { resolveImportRoots, walkImportDirectory, type WalkEntry } from './import-walk.ts';

export interface ImportOptions {
  directories: readonly string[];
  /** Worker threads reading and hashing files; default: one per core. */
  jobs?: number;
  /** Files made durable by one flush; default DEFAULT_BATCH_FILES. */
  batchSize?: number;
  /** Files per database transaction; default DEFAULT_FILES_PER_TRANSACTION. */
  filesPerTransaction?: number;
  /** After each committed batch. */
  onProgress?: (progress: ImportProgress) => void;
  /** As soon as a file is refused, in walk order. */
  onRefused?: (refusal: ImportRefusal) => void;
}

export interface ImportProgress {
  seen: number;
  imported: number;
  present: number;
  refused: number;
  elapsedSeconds: number;
}

export interface ImportRefusal {
  path: string;
  filename: string;
  code: ErrorCode;
  message: string;
}

export interface ImportReport {
  imported: number;
  /** Already on the index with the same bytes (or earlier in the same input): skipped. */
  present: string[];
  refused: ImportRefusal[];
  projectsCreated: number;
  elapsedSeconds: number;
}

/**
 * Files per batch, the unit made durable by one file-system flush. Flushing is what a fresh import
 * waits for: on the 2-core benchmark machine 50,000 small files went in at 1,270 files/s in batches
 * of 1,000, 1,610 in batches of 5,000 and 2,260 in batches of 20,000 (docs/import.md).
 */
export const DEFAULT_BATCH_FILES = 20_000;
/** A batch closes early once it holds this many bytes of distributions (staged on disk, not in memory). */
const BATCH_BYTES = 512 * 1024 * 1024;
/**
 * Files per transaction: a batch is inserted in transactions this small, so a writer beside the
 * import (an upload to `cairn serve`) never waits long for SQLite's write lock.
 */
export const DEFAULT_FILES_PER_TRANSACTION = 1000;
/** What an import leaves of a crashed one before then: younger intents may be another writer's. */
const RECOVERY_GRACE_MS = 15 * 60 * 1000;
/** Rows per statement, under both engines' limits on bound parameters. */
const ROWS_PER_STATEMENT = 400;
const MAX_ATTEMPTS = 3;

type Valid = Extract<AnalysedEntry, { ok: true }>;
type Drop = (entry: Valid, code: ErrorCode | 'present', message: string) => void;

interface PreparedBatch {
  candidates: Valid[];
  staged: StagedBlob[];
  /** Moving the staged blobs into place and flushing them: under way while the batch before is inserted. */
  committing: Promise<void>;
  byName: Map<string, Valid>;
  bySha: Map<string, Valid>;
}

/** Lets the event loop turn inside a long batch: worker results, file-system callbacks, the flush. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function chunks<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface BulkImportOptions {
  db: Kysely<Database>;
  dialect: DialectName;
  blobs: BlobStore;
  changes: CatalogueChanges;
  /** Its recovery of interrupted writes (blob intents) is the import's too. */
  uploads: UploadService;
  clock: () => Date;
  maxUploadBytes: number;
}

/**
 * `cairn admin import`: loads directories of distributions (pypiserver's, `pip download`'s) into
 * the index, each file validated as an upload is, many files per transaction (docs/import.md).
 *
 * Workers read, validate and stage every file. A batch then goes: check against the index and the
 * batches not inserted yet (present, conflicting, burned) → record the blob intents of its new
 * files → move their blobs into place with one file-system flush → transactions of
 * `filesPerTransaction` files, each inserting projects, releases, files and burned filenames,
 * telling CatalogueChanges of the added files and rendering each touched project once → publish.
 * A crash anywhere leaves whole transactions, plus staged temp files and blobs under intents that
 * recovery removes; never a row without its blob or pages.
 */
export class BulkImportService {
  constructor(private readonly options: BulkImportOptions) {}

  async importDirectories(options: ImportOptions): Promise<ImportReport> {
    const started = performance.now();
    const roots = await resolveImportRoots(options.directories);
    const { uploads, clock, maxUploadBytes } = this.options;
    await uploads.recoverInterruptedUploads({ olderThan: new Date(clock().getTime() - RECOVERY_GRACE_MS) });

    const report: ImportReport = { imported: 0, present: [], refused: [], projectsCreated: 0, elapsedSeconds: 0 };
    let seen = 0;
    const refuse = (refusal: ImportRefusal) => {
      report.refused.push(refusal);
      options.onRefused?.(refusal);
    };
    const { blobs } = this.options;
    const statistics = await ImportStatistics.start(this.options.db, this.options.dialect);
    const pool = new AnalysisPool({ jobs: options.jobs ?? availableParallelism(), maxBytes: maxUploadBytes, store: blobs.location });
    const batchFiles = Math.max(1, options.batchSize ?? DEFAULT_BATCH_FILES);
    const filesPerTransaction = Math.max(1, options.filesPerTransaction ?? DEFAULT_FILES_PER_TRANSACTION);
    const drop = (entry: Valid, code: ErrorCode | 'present', message: string) => {
      if (code === 'present') report.present.push(entry.path);
      else refuse({ path: entry.path, filename: entry.analysed.filename, code, message });
    };
    let batch: Valid[] = [];
    let batchBytes = 0;
    // Three batches are under way at once: one is inserted while the next is prepared (checked,
    // its blobs moved into place and flushed) and the workers fill the one after: the disk works
    // while the database does, and the workers never wait for either.
    let pending: PreparedBatch | null = null;
    let storing: { batch: PreparedBatch; done: Promise<void> } | null = null;
    const finishStoring = async () => {
      const current = storing;
      storing = null;
      if (current) await current.done;
    };
    const advance = async (next: Valid[]) => {
      const unstored = [pending, storing?.batch].filter((b): b is PreparedBatch => b !== null && b !== undefined);
      const prepared = next.length > 0 ? await this.prepare(next, unstored, drop) : null;
      await finishStoring();
      const previous = pending;
      pending = prepared;
      if (previous) {
        const done = this.store(previous, filesPerTransaction, drop, statistics).then((stored) => {
          report.imported += stored.imported;
          report.projectsCreated += stored.projectsCreated;
          report.elapsedSeconds = (performance.now() - started) / 1000;
          options.onProgress?.({ seen, imported: report.imported, present: report.present.length, refused: report.refused.length, elapsedSeconds: report.elapsedSeconds });
        });
        // Awaited by the next advance (or the end); until then a failure must not count as unhandled.
        done.catch(() => undefined);
        storing = { batch: previous, done };
      }
    };
    try {
      for await (const entry of pool.analyse(walkAll(roots), (staged) => blobs.discardStaged(staged))) {
        seen++;
        if (!entry.ok) {
          refuse({ path: entry.path, filename: entry.filename, code: entry.code, message: entry.message });
          continue;
        }
        batch.push(entry);
        batchBytes += entry.analysed.size;
        if (batch.length >= batchFiles || batchBytes >= BATCH_BYTES) {
          const taken = batch;
          batch = [];
          batchBytes = 0;
          await advance(taken);
        }
      }
      const last = batch;
      batch = [];
      await advance(last);
      await advance([]);
      await finishStoring();
      await statistics?.finish();
    } finally {
      await blobs.discardStaged(batch.map((entry) => entry.staged));
      // A batch being inserted when the import failed cleans up after itself (store).
      await finishStoring().catch(() => undefined);
      if (pending) await this.abandon(pending);
      await pool.close();
    }
    report.elapsedSeconds = (performance.now() - started) / 1000;
    return report;
  }

  /**
   * Sorts a batch into new files and the rest (present, or refused: twice in the input, in a
   * batch not inserted yet, or in conflict with the index), records the intents of the new files'
   * blobs and starts moving them into place.
   */
  private async prepare(batch: Valid[], unstored: readonly PreparedBatch[], drop: Drop): Promise<PreparedBatch | null> {
    const fresh: Valid[] = [];
    const byName = new Map<string, Valid>(unstored.flatMap((b) => [...b.byName]));
    const bySha = new Map<string, Valid>(unstored.flatMap((b) => [...b.bySha]));
    const unneeded: StagedBlob[] = [];
    const dropStaged: Drop = (entry, code, message) => {
      unneeded.push(entry.staged);
      drop(entry, code, message);
    };
    // Twice in the input: the first copy in walk order is the one imported.
    for (const entry of batch) {
      const { filename, sha256 } = entry.analysed;
      const sameName = byName.get(filename);
      const sameBytes = bySha.get(sha256);
      if (sameName && sameName.analysed.sha256 === sha256) dropStaged(entry, 'present', '');
      else if (sameName) dropStaged(entry, 'upload.file_exists', `${filename} appears twice in the input with different content; ${sameName.path} was taken`);
      else if (sameBytes) dropStaged(entry, 'upload.file_exists', `${entry.path} has the same content (sha256) as ${sameBytes.path}, under another filename`);
      else {
        byName.set(filename, entry);
        bySha.set(sha256, entry);
        fresh.push(entry);
      }
    }
    const candidates = await this.withoutExisting(fresh, dropStaged);
    await this.options.blobs.discardStaged(unneeded);
    if (candidates.length === 0) return null;

    const staged = candidates.map((entry) => entry.staged);
    // Intents before the blobs become visible: whatever a crash leaves from here on is removed
    // by recovery unless its file row committed (the upload's mechanism, UploadService).
    const now = this.options.clock().toISOString();
    await this.options.db.transaction().execute(async (trx) => {
      for (const part of chunks(candidates)) {
        await trx
          .insertInto('blob_intents')
          .values(part.map((entry) => ({ sha256: entry.analysed.sha256, created_at: now })))
          .onConflict((oc) => oc.column('sha256').doUpdateSet({ created_at: now }))
          .execute();
      }
    });
    const committing = this.options.blobs.commitStaged(staged);
    // Awaited by `store`; until then a failure must not count as unhandled.
    committing.catch(() => undefined);
    return {
      candidates,
      staged,
      committing,
      byName: new Map(candidates.map((entry) => [entry.analysed.filename, entry])),
      bySha: new Map(candidates.map((entry) => [entry.analysed.sha256, entry])),
    };
  }

  /**
   * Inserts a prepared batch once its blobs are in place and flushed, in transactions of
   * `filesPerTransaction` files: each is whole, so a crash between them leaves whole files, and the
   * blobs of the rest under their intents.
   */
  private async store(prepared: PreparedBatch, filesPerTransaction: number, drop: Drop, statistics: ImportStatistics | null): Promise<{ imported: number; projectsCreated: number }> {
    const outcome = { imported: 0, projectsCreated: 0 };
    const inserted = new Set<string>();
    try {
      try {
        await prepared.committing;
      } catch (error) {
        await this.options.blobs.discardStaged(prepared.staged);
        throw error;
      }
      for (const part of chunks(prepared.candidates, filesPerTransaction)) {
        const stored = await this.storeTransaction(part, drop);
        for (const entry of stored.entries) inserted.add(entry.analysed.sha256);
        outcome.imported += stored.entries.length;
        outcome.projectsCreated += stored.projectsCreated;
        await statistics?.filesAdded(stored.entries.length);
      }
      return outcome;
    } finally {
      await this.releaseOrphanBlobs(prepared.candidates.map((entry) => entry.analysed.sha256).filter((sha256) => !inserted.has(sha256)));
    }
  }

  /** One transaction, tried again when an upload committed one of its names or digests since the check. */
  private async storeTransaction(entries: Valid[], drop: Drop): Promise<{ entries: Valid[]; projectsCreated: number }> {
    let candidates = entries;
    for (let attempt = 1; ; attempt++) {
      try {
        const changes = await this.insertBatch(candidates);
        this.options.changes.published(...changes.recorded);
        return { entries: candidates, projectsCreated: changes.projectsCreated };
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= MAX_ATTEMPTS) throw error;
        candidates = await this.withoutExisting(candidates, drop);
        if (candidates.length === 0) return { entries: [], projectsCreated: 0 };
      }
    }
  }

  /** A prepared batch that will not be inserted (the import failed): nothing of it may stay. */
  private async abandon(prepared: PreparedBatch): Promise<void> {
    await prepared.committing.catch(() => undefined);
    await this.options.blobs.discardStaged(prepared.staged);
    await this.releaseOrphanBlobs(prepared.candidates.map((entry) => entry.analysed.sha256));
  }

  /** Drops the entries the index already has (same name and bytes), or that conflict with it. */
  private async withoutExisting(entries: Valid[], drop: Drop): Promise<Valid[]> {
    const { db } = this.options;
    const existingByName = new Map<string, string>();
    const existingBySha = new Map<string, string>();
    const burned = new Set<string>();
    for (const part of chunks(entries)) {
      const names = part.map((e) => e.analysed.filename);
      const shas = part.map((e) => e.analysed.sha256);
      const rows = await db
        .selectFrom('files')
        .select(['filename', 'sha256'])
        .where((eb) => eb.or([eb('filename', 'in', names), eb('sha256', 'in', shas)]))
        .execute();
      for (const row of rows) {
        existingByName.set(row.filename, row.sha256);
        existingBySha.set(row.sha256, row.filename);
      }
      for (const row of await db.selectFrom('burned_filenames').select('filename').where('filename', 'in', names).execute()) burned.add(row.filename);
    }
    const kept: Valid[] = [];
    for (const entry of entries) {
      const { filename, sha256 } = entry.analysed;
      const stored = existingByName.get(filename);
      const storedName = existingBySha.get(sha256);
      if (stored === sha256) drop(entry, 'present', '');
      else if (stored !== undefined) drop(entry, 'upload.file_exists', `File already exists ('${filename}') with different content. A filename can be used only once`);
      else if (storedName !== undefined) drop(entry, 'upload.file_exists', `The file is a duplicate of an existing file: '${storedName}' has the same sha256`);
      else if (burned.has(filename)) drop(entry, 'upload.filename_reused', `This filename has already been used ('${filename}'), use a different version`);
      else kept.push(entry);
    }
    return kept;
  }

  /** One transaction; each project it touches is rendered once. */
  private async insertBatch(entries: Valid[]): Promise<{ recorded: RecordedChange[]; projectsCreated: number }> {
    const { db, changes, clock } = this.options;
    const now = clock().toISOString();
    return db.transaction().execute(async (trx) => {
      const projectIds = new Map<string, number>();
      const created = new Set<number>();
      const firstOfProject = new Map<string, AnalysedDistribution>();
      for (const { analysed } of entries) if (!firstOfProject.has(analysed.normalizedProject)) firstOfProject.set(analysed.normalizedProject, analysed);
      const projectNames = [...firstOfProject.keys()];
      const known = async () => {
        for (const part of chunks(projectNames.filter((name) => !projectIds.has(name)))) {
          const rows = await trx.selectFrom('projects').select(['id', 'normalized_name']).where('normalized_name', 'in', part).execute();
          for (const row of rows) projectIds.set(row.normalized_name, row.id);
        }
      };
      await known();
      const missing = projectNames.filter((name) => !projectIds.has(name));
      for (const part of chunks(missing)) {
        // Imported projects have no owner: an operator gives one with `cairn admin token create --project`.
        const rows = await trx
          .insertInto('projects')
          .values(part.map((name) => ({ name: firstOfProject.get(name)!.projectName, normalized_name: name, created_at: now, serial: 1 })))
          .onConflict((oc) => oc.column('normalized_name').doNothing())
          .returning(['id', 'normalized_name'])
          .execute();
        for (const row of rows) {
          projectIds.set(row.normalized_name, row.id);
          created.add(row.id);
        }
      }
      // Created by an upload since the look-up: it is an existing project now.
      await known();

      const releaseKey = (projectId: number, version: string) => `${projectId}\u0000${version}`;
      const releaseIds = new Map<string, number>();
      const firstOfRelease = new Map<string, AnalysedDistribution>();
      for (const { analysed } of entries) {
        const key = releaseKey(projectIds.get(analysed.normalizedProject)!, analysed.version);
        if (!firstOfRelease.has(key)) firstOfRelease.set(key, analysed);
      }
      const touched = [...new Set([...firstOfProject.keys()].map((name) => projectIds.get(name)!))];
      const versions = [...new Set(entries.map((e) => e.analysed.version))];
      const knownReleases = async () => {
        for (const part of chunks(touched)) {
          for (const versionPart of chunks(versions)) {
            const rows = await trx
              .selectFrom('releases')
              .select(['id', 'project_id', 'version'])
              .where('project_id', 'in', part)
              .where('version', 'in', versionPart)
              .execute();
            for (const row of rows) releaseIds.set(releaseKey(row.project_id, row.version), row.id);
          }
        }
      };
      await knownReleases();
      const newReleases = [...firstOfRelease.entries()].filter(([key]) => !releaseIds.has(key));
      for (const part of chunks(newReleases)) {
        await trx
          .insertInto('releases')
          .values(
            part.map(([, analysed]) => ({
              project_id: projectIds.get(analysed.normalizedProject)!,
              version: analysed.version,
              summary: analysed.summary,
              requires_python: analysed.requiresPython,
              info_json: analysed.infoJson,
              yanked: 0,
              yanked_reason: null,
              created_at: now,
            })),
          )
          .onConflict((oc) => oc.columns(['project_id', 'version']).doNothing())
          .execute();
      }
      await knownReleases();

      const added: AddedFile[] = [];
      for (const part of chunks(entries)) {
        const rows = await trx
          .insertInto('files')
          .values(
            part.map(({ analysed }) => {
              const projectId = projectIds.get(analysed.normalizedProject)!;
              return {
                project_id: projectId,
                release_id: releaseIds.get(releaseKey(projectId, analysed.version))!,
                filename: analysed.filename,
                packagetype: analysed.packagetype,
                python_version: analysed.pythonVersion,
                size: analysed.size,
                sha256: analysed.sha256,
                md5: analysed.md5,
                blake2b_256: analysed.blake2b256,
                requires_python: analysed.requiresPython,
                core_metadata: analysed.coreMetadata,
                core_metadata_sha256: analysed.coreMetadataSha256,
                upload_time: now,
                uploaded_by_token_id: null,
              };
            }),
          )
          .returning(['id', 'filename'])
          .execute();
        const ids = new Map(rows.map((row) => [row.filename, row.id]));
        for (const { analysed } of part) {
          added.push({
            id: ids.get(analysed.filename)!,
            filename: analysed.filename,
            sha256: analysed.sha256,
            size: analysed.size,
            blake2b256: analysed.blake2b256,
            coreMetadataSha256: analysed.coreMetadataSha256,
            coreMetadataLength: analysed.coreMetadataLength,
          });
        }
        await trx
          .insertInto('burned_filenames')
          .values(part.map(({ analysed }) => ({ filename: analysed.filename, burned_at: now })))
          .execute();
        await trx.deleteFrom('blob_intents').where('sha256', 'in', part.map(({ analysed }) => analysed.sha256)).execute();
        await yieldToEventLoop();
      }
      await changes.filesAdded(trx, added);
      const recorded = await changes.projectsChanged(
        trx,
        touched.map((projectId) => ({ projectId, created: created.has(projectId) })),
        { between: yieldToEventLoop },
      );
      return { recorded, projectsCreated: created.size };
    });
  }

  /** Blobs this import moved into place but no row references (refused at the last moment, or a failed batch). */
  private async releaseOrphanBlobs(shas: readonly string[]): Promise<void> {
    const { db, blobs } = this.options;
    for (const part of chunks(shas)) {
      const referenced = new Set((await db.selectFrom('files').select('sha256').where('sha256', 'in', part).execute()).map((r) => r.sha256));
      // The same bytes may wait, staged, in a publishing session: that blob is not this import's to remove.
      for (const r of await db.selectFrom('session_files').select('sha256').where('sha256', 'in', part).execute()) referenced.add(r.sha256);
      for (const sha256 of part) if (!referenced.has(sha256)) await blobs.remove(sha256);
      await db.deleteFrom('blob_intents').where('sha256', 'in', part).execute();
    }
  }
}

async function* walkAll(roots: Awaited<ReturnType<typeof resolveImportRoots>>): AsyncGenerator<WalkEntry> {
  for (const root of roots) yield* walkImportDirectory(root);
}
