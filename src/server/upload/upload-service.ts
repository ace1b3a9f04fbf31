import type { Kysely } from 'kysely';
import { CairnError, isCairnError } from '../../errors.ts';
import { coreMetadataToJsonInfo } from '../../formats/core-metadata.ts';
import {
  assertFilenameMatchesRelease,
  packageTypeOf,
  parseDistributionFilename,
  pythonTagOf,
  type ParsedDistributionFilename,
} from '../../formats/dist-filename.ts';
import { assertValidProjectName, normalizeProjectName } from '../../formats/project-name.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import { statusAllowsUploads } from '../../formats/project-status.ts';
import { createHash } from 'node:crypto';
import type { BlobStore, ReceivedBlob } from '../storage/blob-store.ts';
import { isUniqueViolation } from '../storage/database.ts';
import type { Database } from '../storage/schema.ts';
import type { TokenPrincipal, TokenService } from '../auth/tokens.ts';
import type { CatalogueChanges, RecordedChange } from '../pages/catalogue-changes.ts';
import { assertNotAwaitedByPublisher, assertNotConfusable } from '../catalogue/project-names.ts';
import { readDistributionMetadata } from './dist-metadata.ts';

/** The form of a twine upload (`POST /legacy/`), already parsed from multipart. */
export interface UploadForm {
  fields: ReadonlyMap<string, string>;
  /** The `content` part: its client-given filename and the bytes received so far. */
  content: { filename: string; blob: ReceivedBlob } | null;
}

export interface UploadOutcome {
  status: 'created' | 'identical';
  project: string;
  version: string;
  filename: string;
  sha256: string;
  fileId: number;
}

/**
 * Runs inside the upload transaction after the file row exists; lets later layers (attestations,
 * pending build provenance) commit atomically with the file or veto it.
 */
export type UploadTransactionHook = (
  trx: Kysely<Database>,
  file: { id: number; filename: string; sha256: string; projectId: number; releaseId: number },
) => Promise<void>;

/** Checks run on the received file before anything is stored; throwing refuses the upload. */
export type UploadPrecheck = (
  form: UploadForm,
  file: { parsed: ParsedDistributionFilename; sha256: string; principal: TokenPrincipal },
) => Promise<UploadTransactionHook | void>;

/** Whether a public file or a file staged in a publishing session still needs the blob. */
export async function blobReferenced(db: Kysely<Database>, sha256: string): Promise<boolean> {
  const file = await db.selectFrom('files').select('id').where('sha256', '=', sha256).executeTakeFirst();
  if (file) return true;
  const staged = await db.selectFrom('session_files').select('id').where('sha256', '=', sha256).executeTakeFirst();
  return staged !== undefined;
}

/**
 * Refuses a new file for a project whose PEP 792 status takes none (archived, quarantined) and
 * for a release past the closing age (after a compromise, an attacker with a stolen token must
 * not slip a file into an old, trusted release). Uploads and publishing sessions run it before
 * anything is stored and again inside the transaction that makes the file public, where a status
 * set meanwhile is seen.
 */
export async function assertOpenForFiles(
  db: Kysely<Database>,
  file: { normalizedName: string; version: string; filename: string; releaseCloseDays: number; now: Date },
): Promise<void> {
  const { normalizedName, version, filename, releaseCloseDays } = file;
  const project = await db.selectFrom('projects').select(['id', 'name', 'status', 'status_reason']).where('normalized_name', '=', normalizedName).executeTakeFirst();
  if (!project) return;
  if (!statusAllowsUploads(project.status)) {
    const why = project.status_reason ? ` (${project.status_reason})` : '';
    throw new CairnError(
      project.status === 'quarantined' ? 'upload.project_quarantined' : 'upload.project_archived',
      `Project '${project.name}' is ${project.status}${why} and accepts no new files (PEP 792); an index operator can set it active again`,
    );
  }
  if (releaseCloseDays === 0) return;
  const release = await db.selectFrom('releases').select('created_at').where('project_id', '=', project.id).where('version', '=', version).executeTakeFirst();
  if (!release) return;
  const closesAt = Date.parse(release.created_at) + releaseCloseDays * 86_400_000;
  if (file.now.getTime() >= closesAt) {
    throw new CairnError(
      'upload.release_closed',
      `Release ${project.name} ${version} was created ${release.created_at} and closed for new files after ${releaseCloseDays} days; upload ${filename} in a new version`,
      { closed_after_days: releaseCloseDays, release_created_at: release.created_at },
    );
  }
}

/**
 * The columns a distribution's row carries wherever it is stored (public `files`, a session's
 * `session_files`): what the filename, the received bytes and the core metadata say.
 */
export function distributionColumns(
  filename: string,
  parsed: ParsedDistributionFilename,
  blob: ReceivedBlob,
  requiresPython: string | null,
  coreMetadata: { text: string; sha256: string },
) {
  return {
    filename,
    packagetype: packageTypeOf(parsed),
    python_version: pythonTagOf(parsed),
    size: blob.size,
    sha256: blob.sha256,
    md5: blob.md5,
    blake2b_256: blob.blake2b256,
    requires_python: requiresPython,
    core_metadata: coreMetadata.text,
    core_metadata_sha256: coreMetadata.sha256,
  };
}

/** The core metadata as served at `<file>.metadata` (PEP 658), with its digest. */
export function coreMetadataOf(raw: Buffer): { text: string; sha256: string } {
  return { text: raw.toString('utf8'), sha256: createHash('sha256').update(raw).digest('hex') };
}

const HEX = (length: number) => new RegExp(`^[0-9a-f]{${length}}$`);

function required(form: UploadForm, name: string): string {
  const value = form.fields.get(name);
  if (value === undefined || value.trim() === '') {
    throw new CairnError('upload.missing_field', `'${name}' is a required field of the upload form`);
  }
  return value.trim();
}

function checkDigestField(form: UploadForm, field: string, actual: string, length: number): void {
  const sent = form.fields.get(field);
  if (sent === undefined || sent === '') return;
  const claimed = sent.trim().toLowerCase();
  if (!HEX(length).test(claimed)) {
    throw new CairnError('upload.malformed', `Invalid value for ${field}: expected ${length} hexadecimal characters`);
  }
  if (claimed !== actual) {
    throw new CairnError(
      'upload.digest_mismatch',
      `The digest supplied does not match a digest calculated from the uploaded file (${field}: sent ${claimed}, computed ${actual})`,
    );
  }
}

/** The upload form checked on its own, before any storage is consulted (also a staged upload's first step). */
export interface ValidatedUpload {
  name: string;
  normalizedVersion: string;
  filename: string;
  parsed: ParsedDistributionFilename;
  blob: ReceivedBlob;
}

export function validateUploadForm(form: UploadForm): ValidatedUpload {
  const action = required(form, ':action');
  if (action !== 'file_upload') {
    throw new CairnError('upload.unsupported_action', `Unknown :action '${action}': only file_upload is supported`);
  }
  const protocol = form.fields.get('protocol_version');
  if (protocol !== undefined && protocol !== '1') {
    throw new CairnError('upload.unsupported_action', `Unknown protocol_version '${protocol}': only 1 is supported`);
  }
  const name = required(form, 'name');
  const version = required(form, 'version');
  const filetype = required(form, 'filetype');
  if (!form.content) throw new CairnError('upload.missing_field', "Upload payload does not have a file: the 'content' part is missing");
  assertValidProjectName(name);
  const normalizedVersion = normalizeVersion(version);

  const { filename, blob } = form.content;
  const parsed = parseDistributionFilename(filename);
  assertFilenameMatchesRelease(parsed, name, version);
  if (packageTypeOf(parsed) !== filetype) {
    throw new CairnError('upload.filename_mismatch', `filetype '${filetype}' does not match the file ${filename} (a ${packageTypeOf(parsed)})`);
  }
  if (blob.size === 0) throw new CairnError('upload.invalid_archive', `Invalid distribution file: ${filename} is empty`);
  checkDigestField(form, 'sha256_digest', blob.sha256, 64);
  checkDigestField(form, 'md5_digest', blob.md5, 32);
  checkDigestField(form, 'blake2_256_digest', blob.blake2b256, 64);
  return { name, normalizedVersion, filename, parsed, blob };
}

export interface UploadServiceOptions {
  db: Kysely<Database>;
  blobs: BlobStore;
  tokens: TokenService;
  clock: () => Date;
  /** Checks of later layers (PEP 740 attestations, pending build provenance), in order. */
  prechecks?: readonly UploadPrecheck[];
  /** Renders the project's pages inside the upload's transaction (pages rendered on write). */
  changes: CatalogueChanges;
  /** Days after a release's first file when it takes no new files; 0 never closes (issue 15). */
  releaseCloseDays?: number;
}

export class UploadService {
  private readonly db: Kysely<Database>;
  private readonly blobs: BlobStore;
  private readonly tokens: TokenService;
  private readonly clock: () => Date;
  private readonly prechecks: readonly UploadPrecheck[];
  private readonly changes: CatalogueChanges;
  private readonly releaseCloseDays: number;

  constructor(options: UploadServiceOptions) {
    this.db = options.db;
    this.blobs = options.blobs;
    this.tokens = options.tokens;
    this.clock = options.clock;
    this.prechecks = options.prechecks ?? [];
    this.changes = options.changes;
    this.releaseCloseDays = options.releaseCloseDays ?? 0;
  }

  private assertOpenForFiles(db: Kysely<Database>, normalizedName: string, version: string, filename: string): Promise<void> {
    return assertOpenForFiles(db, { normalizedName, version, filename, releaseCloseDays: this.releaseCloseDays, now: this.clock() });
  }

  /**
   * Validates and stores one distribution. The received temp blob is either committed or discarded
   * before this returns, so a refused upload leaves no trace (no blob, no row, no temp file).
   */
  async upload(principal: TokenPrincipal, form: UploadForm): Promise<UploadOutcome> {
    const blob = form.content?.blob;
    try {
      return await this.validateAndStore(principal, form);
    } finally {
      if (blob) await this.blobs.discard(blob);
    }
  }

  private async validateAndStore(principal: TokenPrincipal, form: UploadForm): Promise<UploadOutcome> {
    const { name, normalizedVersion, filename, parsed, blob } = validateUploadForm(form);

    const existingProject = await this.db
      .selectFrom('projects')
      .select(['id', 'name', 'normalized_name'])
      .where('normalized_name', '=', normalizeProjectName(name))
      .executeTakeFirst();
    await this.tokens.assertMayUpload(
      principal,
      existingProject ? { id: existingProject.id, normalizedName: existingProject.normalized_name } : null,
      name,
    );

    if (!existingProject) {
      // Before anything is stored: a refused new project leaves no trace.
      await assertNotAwaitedByPublisher(this.db, name);
      await assertNotConfusable(this.db, name);
    }

    const existing = await this.db
      .selectFrom('files')
      .select(['id', 'sha256', 'filename'])
      .where((eb) => eb.or([eb('filename', '=', filename), eb('sha256', '=', blob.sha256)]))
      .execute();
    const sameName = existing.find((f) => f.filename === filename);
    if (sameName) {
      // PyPI answers an identical re-upload with success, which is what `twine --skip-existing` relies on.
      if (sameName.sha256 === blob.sha256) {
        return { status: 'identical', project: name, version: normalizedVersion, filename, sha256: blob.sha256, fileId: sameName.id };
      }
      throw new CairnError('upload.file_exists', `File already exists ('${filename}') with different content. A filename can be used only once`);
    }
    const sameBytes = existing.find((f) => f.sha256 === blob.sha256);
    if (sameBytes) {
      throw new CairnError('upload.file_exists', `The file is a duplicate of an existing file: '${sameBytes.filename}' has the same sha256`);
    }
    const burned = await this.db.selectFrom('burned_filenames').select('filename').where('filename', '=', filename).executeTakeFirst();
    if (burned) {
      throw new CairnError('upload.filename_reused', `This filename has already been used ('${filename}'), use a different version`);
    }

    // After the identical re-upload answer: `twine --skip-existing` adds nothing, so it still succeeds.
    await this.assertOpenForFiles(this.db, normalizeProjectName(name), normalizedVersion, filename);
    const { raw, metadata } = await readDistributionMetadata(blob.tempPath, parsed);
    const hooks: UploadTransactionHook[] = [];
    for (const check of this.prechecks) {
      const hook = await check(form, { parsed, sha256: blob.sha256, principal });
      if (hook) hooks.push(hook);
    }

    const now = this.clock().toISOString();
    const coreMetadata = coreMetadataOf(raw);
    await this.db.insertInto('blob_intents').values({ sha256: blob.sha256, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
    try {
      await this.blobs.commit(blob);
    } catch (error) {
      // Nothing was stored (a full disk, a failed fsync, object storage unreachable mid-write): the intent is withdrawn with it.
      await this.releaseOrphanBlob(blob.sha256);
      throw error;
    }
    let stored: { fileId: number; change: RecordedChange };
    try {
      stored = await this.db.transaction().execute(async (trx) => {
        let projectId = existingProject?.id;
        let projectCreated = false;
        if (projectId === undefined) {
          // Again inside the transaction: a look-alike or a pending publisher's name may have
          // appeared since the check above (exact on SQLite, whose writers are serialised).
          await assertNotAwaitedByPublisher(trx, name);
          await assertNotConfusable(trx, name);
          const created = await trx
            .insertInto('projects')
            .values({ name: metadata.name || name, normalized_name: normalizeProjectName(name), created_at: now, serial: 1 })
            .onConflict((oc) => oc.column('normalized_name').doNothing())
            .returning('id')
            .executeTakeFirst();
          if (created) {
            projectId = created.id;
            projectCreated = true;
            if (principal.scope === 'new_projects') {
              await trx.insertInto('project_owners').values({ project_id: projectId, token_id: principal.tokenId }).execute();
            }
          } else {
            // Another upload created the project after our check (twine --parallel, a CI matrix):
            // it is now an existing project, and this token must be allowed to upload to it.
            const raced = await trx.selectFrom('projects').select(['id', 'normalized_name']).where('normalized_name', '=', normalizeProjectName(name)).executeTakeFirstOrThrow();
            await this.tokens.assertMayUpload(principal, { id: raced.id, normalizedName: raced.normalized_name }, name, trx);
            projectId = raced.id;
          }
        }
        if (!projectCreated) await this.assertOpenForFiles(trx, normalizeProjectName(name), normalizedVersion, filename);
        let release = await trx
          .selectFrom('releases')
          .select('id')
          .where('project_id', '=', projectId)
          .where('version', '=', normalizedVersion)
          .executeTakeFirst();
        if (!release) {
          release = await trx
            .insertInto('releases')
            .values({
              project_id: projectId,
              version: normalizedVersion,
              summary: metadata.summary ?? null,
              requires_python: metadata.requiresPython ?? null,
              info_json: JSON.stringify(coreMetadataToJsonInfo(metadata)),
              yanked: 0,
              yanked_reason: null,
              created_at: now,
            })
            .onConflict((oc) => oc.columns(['project_id', 'version']).doNothing())
            .returning('id')
            .executeTakeFirst();
          // A concurrent upload of another file of the same release created it first.
          release ??= await trx
            .selectFrom('releases')
            .select('id')
            .where('project_id', '=', projectId)
            .where('version', '=', normalizedVersion)
            .executeTakeFirstOrThrow();
        }
        const file = await trx
          .insertInto('files')
          .values({
            project_id: projectId,
            release_id: release.id,
            ...distributionColumns(filename, parsed, blob, metadata.requiresPython ?? null, coreMetadata),
            upload_time: now,
            uploaded_by_token_id: principal.scope === 'publishing' ? null : principal.tokenId,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        await trx.insertInto('burned_filenames').values({ filename, burned_at: now }).execute();
        await this.tokens.spendSingleUse(trx, principal, this.clock());
        await this.changes.filesAdded(trx, [
          {
            id: file.id,
            filename,
            sha256: blob.sha256,
            size: blob.size,
            blake2b256: blob.blake2b256,
            coreMetadataSha256: coreMetadata.sha256,
            coreMetadataLength: raw.length,
          },
        ]);
        await trx.deleteFrom('blob_intents').where('sha256', '=', blob.sha256).execute();
        for (const hook of hooks) {
          await hook(trx, { id: file.id, filename, sha256: blob.sha256, projectId, releaseId: release.id });
        }
        const change = await this.changes.projectChanged(trx, projectId, { created: projectCreated });
        return { fileId: file.id, change };
      });
    } catch (error) {
      // A connection that broke mid-transaction leaves the outcome unknown: its COMMIT may still
      // reach the server (a partition that heals), so the blob stays, with its intent, for the
      // periodic recovery to judge once the database answers again.
      if (isCairnError(error) && error.code === 'database.unavailable') throw error;
      await this.releaseOrphanBlob(blob.sha256);
      if (isUniqueViolation(error)) {
        throw new CairnError('upload.file_exists', `File already exists ('${filename}'): a concurrent upload stored it first`);
      }
      throw error;
    }
    this.changes.published(stored.change);
    return { status: 'created', project: name, version: normalizedVersion, filename, sha256: blob.sha256, fileId: stored.fileId };
  }

  /** Removes a committed blob that no file row references (failed transaction, crash recovery). */
  private async releaseOrphanBlob(sha256: string): Promise<void> {
    if (!(await blobReferenced(this.db, sha256))) {
      // A store that cannot delete now (unreachable) keeps the intent: a later recovery or sweep retries.
      const removed = await this.blobs.remove(sha256).then(() => true, () => false);
      if (!removed) return;
    }
    await this.db.deleteFrom('blob_intents').where('sha256', '=', sha256).execute();
  }

  /**
   * Start-up recovery: blobs renamed into place by an upload (or a bulk import) whose transaction
   * never committed. With `olderThan`, only what was left before then: what a process running
   * beside uploads (`cairn admin import`) may clean without touching work still in flight.
   */
  /**
   * `cairn admin blobs sweep`: recovery, then every stored blob written before `olderThan` that no
   * file row references and no live intent names is deleted (a crash between PUT and intent
   * cleanup, a release deleted while the store was unreachable, a restored database backup).
   * Blobs written since the cut-off may belong to an upload still committing and are kept.
   */
  async sweepOrphanBlobs(options: { olderThan: Date; dryRun?: boolean }): Promise<{ intentsReleased: number; orphans: string[] }> {
    const intentsReleased = options.dryRun ? 0 : await this.recoverInterruptedUploads({ olderThan: options.olderThan });
    const orphans: string[] = [];
    let candidates: string[] = [];
    const check = async () => {
      const part = candidates;
      candidates = [];
      if (part.length === 0) return;
      // Public files, files staged in a publishing session, and writes not yet committed keep theirs.
      const [files, staged, intents] = await Promise.all([
        this.db.selectFrom('files').select('sha256').where('sha256', 'in', part).execute(),
        this.db.selectFrom('session_files').select('sha256').where('sha256', 'in', part).execute(),
        this.db.selectFrom('blob_intents').select('sha256').where('sha256', 'in', part).execute(),
      ]);
      const kept = new Set([...files, ...staged, ...intents].map((row) => row.sha256));
      for (const sha256 of part) {
        if (kept.has(sha256)) continue;
        if (!options.dryRun) await this.blobs.remove(sha256);
        orphans.push(sha256);
      }
    };
    for await (const blob of this.blobs.list()) {
      if (blob.written >= options.olderThan) continue;
      candidates.push(blob.sha256);
      if (candidates.length >= 500) await check();
    }
    await check();
    return { intentsReleased, orphans };
  }

  async recoverInterruptedUploads(options: { olderThan?: Date } = {}): Promise<number> {
    await this.blobs.cleanTemp(options);
    let query = this.db.selectFrom('blob_intents').select('sha256');
    if (options.olderThan) query = query.where('created_at', '<', options.olderThan.toISOString());
    const intents = await query.execute();
    for (const { sha256 } of intents) await this.releaseOrphanBlob(sha256);
    return intents.length;
  }
}
