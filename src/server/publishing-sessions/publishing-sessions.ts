import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { coreMetadataToJsonInfo } from '../../formats/core-metadata.ts';
import { assertFilenameMatchesRelease, parseDistributionFilename } from '../../formats/dist-filename.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import { assertValidProjectName, normalizeProjectName } from '../../formats/project-name.ts';
import type { TokenPrincipal, TokenService } from '../auth/tokens.ts';
import { assertNotAwaitedByPublisher, assertNotConfusable } from '../catalogue/project-names.ts';
import type { AddedFile, CatalogueChanges, RecordedChange } from '../pages/catalogue-changes.ts';
import type { AttestationStore } from '../provenance/attestation-store.ts';
import type { PendingProvenanceService } from '../provenance/pending-provenance.ts';
import type { FormAttestationsVerifier } from '../provenance/upload-attestations.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { isUniqueViolation } from '../storage/database.ts';
import type { Database, PublishingSessionsTable } from '../storage/schema.ts';
import { readDistributionMetadata } from '../upload/dist-metadata.ts';
import { assertOpenForFiles, blobReferenced, coreMetadataOf, distributionColumns, validateUploadForm, type UploadForm, type UploadPrecheck } from '../upload/upload-service.ts';

export type SessionRow = { [K in keyof PublishingSessionsTable]: K extends 'id' ? number : PublishingSessionsTable[K] };

/** What a publish lacks, one entry per file (PEP 694 leaves "complete" to the index). */
export interface MissingItem {
  filename: string;
  missing: 'file' | 'build-provenance';
}

export interface StagedFileState {
  filename: string;
  sha256: string;
  size: number;
  /** Verified build provenance waits for this file (sent with it, or submitted to `/_/provenance`). */
  buildProvenance: boolean;
  publishAttestation: boolean;
  uploadedAt: string;
}

export interface SessionState {
  token: string;
  project: string;
  normalizedName: string;
  version: string;
  status: 'pending' | 'published' | 'canceled';
  expiresAt: string;
  requireProvenance: 'build' | null;
  expectedFiles: string[] | null;
  files: StagedFileState[];
  /** What a publish would refuse for, now. */
  missing: MissingItem[];
}

/** A session creation request (PEP 694 fields, plus cairn's `require-provenance` and `files`). */
export interface NewSessionRequest {
  name: string;
  version: string;
  requireProvenance: 'build' | null;
  expectedFiles: string[] | null;
}

export interface PublishingSessionOptions {
  db: Kysely<Database>;
  blobs: BlobStore;
  tokens: TokenService;
  changes: CatalogueChanges;
  attestations: AttestationStore;
  pending: PendingProvenanceService;
  verifyFormAttestations: FormAttestationsVerifier;
  clock: () => Date;
  ttlSeconds: number;
  /** Days after which a release takes no new files (0: never), as for uploads. */
  releaseCloseDays: number;
}

/** 32 random bytes: the PEP asks for a token that cannot be guessed, since the stage is readable with it alone. */
function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Publishing sessions (PEP 694 draft): files are staged invisibly, installable from the session's
 * stage, and become public together in one transaction — or not at all. A session may require
 * verified build provenance for every file, so nothing without it is ever public, even briefly.
 */
export class PublishingSessionService {
  private readonly db: Kysely<Database>;

  constructor(private readonly options: PublishingSessionOptions) {
    this.db = options.db;
  }

  private now(): Date {
    return this.options.clock();
  }

  /** Creates a session, or answers the pending one for the same release (`existing`, PEP 694: 409 + Location). */
  async create(principal: TokenPrincipal, request: NewSessionRequest): Promise<{ state: SessionState; existing: boolean }> {
    assertValidProjectName(request.name);
    const version = normalizeVersion(request.version);
    const normalizedName = normalizeProjectName(request.name);
    for (const filename of request.expectedFiles ?? []) assertFilenameMatchesRelease(parseDistributionFilename(filename), request.name, request.version);
    await this.sweepExpired();

    const project = await this.projectNamed(normalizedName);
    await this.options.tokens.assertMayUpload(principal, project, request.name);
    // A session whose files could never be published is refused at once (PEP 792 status, release closing).
    await assertOpenForFiles(this.db, { normalizedName, version, filename: `${request.name} ${version}`, releaseCloseDays: this.options.releaseCloseDays, now: this.now() });
    if (!project) {
      // A session for a new name is a project about to be created: the same names are refused as for a first upload.
      await assertNotAwaitedByPublisher(this.db, request.name);
      await assertNotConfusable(this.db, request.name);
      await this.assertNameNotReserved(principal, normalizedName, request.name);
    }
    const existing = await this.db
      .selectFrom('publishing_sessions')
      .selectAll()
      .where('normalized_name', '=', normalizedName)
      .where('version', '=', version)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (existing) return { state: await this.stateOf(existing), existing: true };

    const policy = await this.projectPolicy(normalizedName);
    const now = this.now();
    try {
      const row = await this.db
        .insertInto('publishing_sessions')
        .values({
          token: newSessionToken(),
          project_name: request.name,
          normalized_name: normalizedName,
          version,
          status: 'pending',
          require_provenance: request.requireProvenance ?? policy,
          expected_files: request.expectedFiles ? JSON.stringify([...new Set(request.expectedFiles)]) : null,
          created_by_token_id: principal.tokenId,
          created_at: now.toISOString(),
          expires_at: new Date(now.getTime() + this.options.ttlSeconds * 1000).toISOString(),
          ended_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { state: await this.stateOf(row), existing: false };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // A concurrent request created the session for this release first.
      const raced = await this.db.selectFrom('publishing_sessions').selectAll().where('normalized_name', '=', normalizedName).where('version', '=', version).where('status', '=', 'pending').executeTakeFirstOrThrow();
      return { state: await this.stateOf(raced), existing: true };
    }
  }

  /** The session's state; authorisation is checked on every request (PEP 694: same credentials). */
  async status(principal: TokenPrincipal, token: string): Promise<SessionState> {
    const session = await this.authorizedSession(principal, token, { allowEnded: true });
    return this.stateOf(session);
  }

  /** A twine-compatible upload into the session: stored, never listed outside the session's stage. */
  async stageUpload(principal: TokenPrincipal, token: string, form: UploadForm): Promise<StagedFileState> {
    const blob = form.content?.blob;
    try {
      return await this.validateAndStage(principal, token, form);
    } finally {
      if (blob) await this.options.blobs.discard(blob);
    }
  }

  private async validateAndStage(principal: TokenPrincipal, token: string, form: UploadForm): Promise<StagedFileState> {
    const session = await this.authorizedSession(principal, token);
    // An expired session not swept yet still holds its filenames; it goes before they are checked.
    await this.sweepExpired();
    const { name, normalizedVersion, filename, parsed, blob } = validateUploadForm(form);
    if (normalizeProjectName(name) !== session.normalized_name || normalizedVersion !== session.version) {
      throw new CairnError('upload.filename_mismatch', `this session stages ${session.project_name} ${session.version}, not ${name} ${normalizedVersion}`);
    }
    const staged = await this.db
      .selectFrom('session_files')
      .select(['filename', 'sha256'])
      .where((eb) => eb.or([eb('filename', '=', filename), eb('sha256', '=', blob.sha256)]))
      .executeTakeFirst();
    if (staged) {
      throw new CairnError('session.file_exists', staged.filename === filename ? `${filename} is already staged` : `the same bytes are already staged as ${staged.filename}`);
    }
    const published = await this.db
      .selectFrom('files')
      .select('filename')
      .where((eb) => eb.or([eb('filename', '=', filename), eb('sha256', '=', blob.sha256)]))
      .executeTakeFirst();
    if (published) {
      throw new CairnError('upload.file_exists', published.filename === filename ? `File already exists ('${filename}'): it is public already` : `The file is a duplicate of an existing file: '${published.filename}' has the same sha256`);
    }
    const burned = await this.db.selectFrom('burned_filenames').select('filename').where('filename', '=', filename).executeTakeFirst();
    if (burned) throw new CairnError('upload.filename_reused', `This filename has already been used ('${filename}'), use a different version`);
    await assertOpenForFiles(this.db, { normalizedName: session.normalized_name, version: session.version, filename, releaseCloseDays: this.options.releaseCloseDays, now: this.now() });

    const { raw, metadata } = await readDistributionMetadata(blob.tempPath, parsed);
    const items = await this.options.verifyFormAttestations(form, { parsed, sha256: blob.sha256, principal });
    const now = this.now().toISOString();
    await this.db.insertInto('blob_intents').values({ sha256: blob.sha256, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
    await this.options.blobs.commit(blob);
    try {
      await this.db.transaction().execute(async (trx) => {
        // The session may have been published, canceled or swept while the file streamed in. An
        // update, not a read: it waits for a concurrent publish's row lock and then sees its outcome.
        const live = await trx.updateTable('publishing_sessions').set({ status: 'pending' }).where('id', '=', session.id).where('status', '=', 'pending').executeTakeFirst();
        if (Number(live.numUpdatedRows) !== 1) throw new CairnError('session.not_found', 'the session ended while the file was uploaded');
        const file = await trx
          .insertInto('session_files')
          .values({
            session_id: session.id,
            ...distributionColumns(filename, parsed, blob, metadata.requiresPython ?? null, coreMetadataOf(raw)),
            metadata_name: metadata.name || name,
            summary: metadata.summary ?? null,
            info_json: JSON.stringify(coreMetadataToJsonInfo(metadata)),
            uploaded_at: now,
            uploaded_by_token_id: principal.scope === 'publishing' ? null : principal.tokenId,
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        for (const item of items) {
          await trx
            .insertInto('session_attestations')
            .values({
              session_file_id: file.id,
              kind: item.facts.kind,
              raw_json: item.receivedText,
              statement_sha256: item.statementSha256,
              facts_json: JSON.stringify(item.facts),
              publisher_json: item.publisher ? JSON.stringify(item.publisher) : null,
            })
            .execute();
        }
        // Build provenance submitted before the file was staged lives as long as the session.
        await trx
          .updateTable('pending_provenance')
          .set({ expires_at: session.expires_at })
          .where('filename', '=', filename)
          .where('sha256', '=', blob.sha256)
          .where('expires_at', '>', now)
          .where('expires_at', '<', session.expires_at)
          .execute();
        await trx.deleteFrom('blob_intents').where('sha256', '=', blob.sha256).execute();
      });
    } catch (error) {
      await this.releaseBlob(blob.sha256);
      if (isUniqueViolation(error)) throw new CairnError('session.file_exists', `${filename} was staged by a concurrent upload`);
      throw error;
    }
    const state = await this.stateOf(session);
    return state.files.find((f) => f.filename === filename)!;
  }

  /**
   * Makes every staged file public in one transaction: files, release, project (a first release
   * creates it), attestations, pending build provenance, rendered pages and TUF targets commit
   * together; or refuses with what is missing and changes nothing.
   */
  async publish(principal: TokenPrincipal, token: string): Promise<SessionState> {
    const session = await this.authorizedSession(principal, token);
    const before = await this.stateOf(session);
    if (before.files.length === 0) {
      throw new CairnError('session.incomplete', 'nothing is staged in this session: upload the distributions first', { missing: before.missing });
    }
    if (before.missing.length > 0) {
      throw new CairnError('session.incomplete', `the session cannot be published yet: ${before.missing.map((m) => `${m.filename} lacks ${m.missing === 'file' ? 'its upload' : 'verified build provenance'}`).join('; ')}`, {
        missing: before.missing,
      });
    }
    const now = this.now();
    let change: RecordedChange;
    try {
      change = await this.db.transaction().execute(async (trx) => {
        const claimed = await trx
          .updateTable('publishing_sessions')
          .set({ status: 'published', ended_at: now.toISOString() })
          .where('id', '=', session.id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) throw new CairnError('session.published', 'the session was published or canceled by a concurrent request');
        // Read after the claim: a staged upload committing meanwhile is either listed here or refused.
        const staged = await trx.selectFrom('session_files').selectAll().where('session_id', '=', session.id).orderBy('id').execute();

        // A status set or a release closed while the files were staged holds here too.
        await assertOpenForFiles(trx, { normalizedName: session.normalized_name, version: session.version, filename: staged[0]?.filename ?? session.project_name, releaseCloseDays: this.options.releaseCloseDays, now });
        let project = await trx.selectFrom('projects').select(['id', 'normalized_name']).where('normalized_name', '=', session.normalized_name).executeTakeFirst();
        let created = false;
        if (!project) {
          // Again at creation: a look-alike or a pending publisher's name may have appeared since the session opened.
          await assertNotAwaitedByPublisher(trx, session.project_name);
          await assertNotConfusable(trx, session.project_name);
          const first = staged[0]!;
          const inserted = await trx
            .insertInto('projects')
            .values({ name: first.metadata_name, normalized_name: session.normalized_name, created_at: now.toISOString(), serial: 1 })
            .returning(['id', 'normalized_name'])
            .executeTakeFirstOrThrow();
          project = inserted;
          created = true;
          // The name was reserved for the session's creator; its first release makes it the owner.
          if (principal.scope === 'new_projects') await trx.insertInto('project_owners').values({ project_id: inserted.id, token_id: principal.tokenId }).execute();
        }
        let release = await trx.selectFrom('releases').select('id').where('project_id', '=', project.id).where('version', '=', session.version).executeTakeFirst();
        if (!release) {
          const described = staged.find((f) => f.packagetype === 'bdist_wheel') ?? staged[0]!;
          release = await trx
            .insertInto('releases')
            .values({
              project_id: project.id,
              version: session.version,
              summary: described.summary,
              requires_python: described.requires_python,
              info_json: described.info_json,
              yanked: 0,
              yanked_reason: null,
              created_at: now.toISOString(),
            })
            .returning('id')
            .executeTakeFirstOrThrow();
        }
        const added: AddedFile[] = [];
        for (const file of staged) {
          const inserted = await trx
            .insertInto('files')
            .values({
              project_id: project.id,
              release_id: release.id,
              filename: file.filename,
              packagetype: file.packagetype,
              python_version: file.python_version,
              size: Number(file.size),
              sha256: file.sha256,
              md5: file.md5,
              blake2b_256: file.blake2b_256,
              requires_python: file.requires_python,
              core_metadata: file.core_metadata,
              core_metadata_sha256: file.core_metadata_sha256,
              upload_time: now.toISOString(),
              uploaded_by_token_id: file.uploaded_by_token_id,
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          await trx.insertInto('burned_filenames').values({ filename: file.filename, burned_at: now.toISOString() }).execute();
          const items = await trx.selectFrom('session_attestations').selectAll().where('session_file_id', '=', file.id).orderBy('id').execute();
          await this.options.attestations.append(
            trx,
            inserted.id,
            items.map((a) => ({ receivedText: a.raw_json, statementSha256: a.statement_sha256, facts: JSON.parse(a.facts_json), publisher: a.publisher_json ? JSON.parse(a.publisher_json) : null })),
            { submittedBeforeUpload: true, firstParty: true, now },
          );
          await this.options.pending.bindOnUpload(trx, { id: inserted.id, filename: file.filename, sha256: file.sha256 });
          added.push({
            id: inserted.id,
            filename: file.filename,
            sha256: file.sha256,
            size: Number(file.size),
            blake2b256: file.blake2b_256,
            coreMetadataSha256: file.core_metadata_sha256,
            coreMetadataLength: Buffer.byteLength(file.core_metadata),
          });
        }
        if (session.require_provenance === 'build') {
          // Checked again on what was bound: a pending entry could have expired since the check above.
          const withBuild = await trx
            .selectFrom('attestations')
            .select('file_id')
            .distinct()
            .where('kind', '=', 'build')
            .where('file_id', 'in', added.map((f) => f.id))
            .execute();
          const have = new Set(withBuild.map((r) => r.file_id));
          const lacking = added.filter((f) => !have.has(f.id)).map((f): MissingItem => ({ filename: f.filename, missing: 'build-provenance' }));
          if (lacking.length > 0) throw new CairnError('session.incomplete', `no verified build provenance bound to ${lacking.map((m) => m.filename).join(', ')}`, { missing: lacking });
        }
        await this.options.changes.filesAdded(trx, added);
        await trx.deleteFrom('session_attestations').where('session_file_id', 'in', staged.map((f) => f.id)).execute();
        await trx.deleteFrom('session_files').where('session_id', '=', session.id).execute();
        return this.options.changes.projectChanged(trx, project.id, { created });
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new CairnError('upload.file_exists', 'a file of this session became public through another upload meanwhile; cancel the session and upload under new filenames');
      }
      throw error;
    }
    this.options.changes.published(change);
    return this.stateOf({ ...session, status: 'published' });
  }

  /** Discards the session: its files leave the blob store, nothing of it was ever public. */
  async cancel(principal: TokenPrincipal, token: string): Promise<SessionState> {
    const session = await this.authorizedSession(principal, token);
    await this.discard(session, 'canceled');
    return this.stateOf({ ...session, status: 'canceled' });
  }

  /** Expired sessions: staged files deleted from the blob store, rows removed. */
  async sweepExpired(): Promise<number> {
    const expired = await this.db.selectFrom('publishing_sessions').selectAll().where('expires_at', '<=', this.now().toISOString()).execute();
    for (const session of expired) {
      if (session.status === 'pending') await this.discard(session, 'canceled');
      await this.db.deleteFrom('publishing_sessions').where('id', '=', session.id).execute();
    }
    return expired.length;
  }

  async countPending(): Promise<number> {
    const row = await this.db
      .selectFrom('publishing_sessions')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('status', '=', 'pending')
      .where('expires_at', '>', this.now().toISOString())
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** `cairn admin project require-provenance NAME build|none`. */
  async setProjectPolicy(name: string, requireProvenance: 'build' | null): Promise<void> {
    assertValidProjectName(name);
    const normalizedName = normalizeProjectName(name);
    if (requireProvenance === null) {
      await this.db.deleteFrom('project_publish_policies').where('normalized_name', '=', normalizedName).execute();
      return;
    }
    const setAt = this.now().toISOString();
    await this.db
      .insertInto('project_publish_policies')
      .values({ normalized_name: normalizedName, require_provenance: requireProvenance, set_at: setAt })
      .onConflict((oc) => oc.column('normalized_name').doUpdateSet({ require_provenance: requireProvenance, set_at: setAt }))
      .execute();
  }

  async projectPolicy(normalizedName: string): Promise<'build' | null> {
    const row = await this.db.selectFrom('project_publish_policies').select('require_provenance').where('normalized_name', '=', normalizedName).executeTakeFirst();
    return row?.require_provenance ?? null;
  }

  /**
   * The legacy upload (`POST /legacy/`) honours what sessions reserve: a filename staged in a
   * live session, a new name reserved by another token's session, and the project's rule that
   * no file becomes public without verified build provenance.
   */
  legacyUploadPrecheck(): UploadPrecheck {
    return async (_form, file) => {
      const nowIso = this.now().toISOString();
      const staged = await this.db
        .selectFrom('session_files')
        .innerJoin('publishing_sessions', 'publishing_sessions.id', 'session_files.session_id')
        .select('session_files.filename')
        .where('session_files.filename', '=', file.parsed.filename)
        .where('publishing_sessions.status', '=', 'pending')
        .where('publishing_sessions.expires_at', '>', nowIso)
        .executeTakeFirst();
      if (staged) throw new CairnError('upload.file_exists', `'${file.parsed.filename}' is staged in a publishing session; publish or cancel that session`);
      const normalizedName = file.parsed.normalizedProject;
      const project = await this.projectNamed(normalizedName);
      if (!project) await this.assertNameNotReserved(file.principal, normalizedName, file.parsed.project);
      if ((await this.projectPolicy(normalizedName)) !== 'build') return;
      return async (trx, stored) => {
        const build = await trx.selectFrom('attestations').select('id').where('file_id', '=', stored.id).where('kind', '=', 'build').executeTakeFirst();
        if (!build) {
          throw new CairnError(
            'upload.provenance_required',
            `project '${normalizedName}' requires verified build provenance: submit it to /_/provenance before the upload, send it in the attestations field, or publish through a session`,
          );
        }
      };
    };
  }

  /** A pending, live session by token, for a stage read: the token alone grants it (PEP 694 stage). */
  async liveSession(token: string): Promise<SessionRow> {
    const session = await this.sessionByToken(token);
    this.assertUsable(session);
    return session;
  }

  async stagedFiles(sessionId: number) {
    return this.db.selectFrom('session_files').selectAll().where('session_id', '=', sessionId).orderBy('id').execute();
  }

  private async sessionByToken(token: string): Promise<SessionRow> {
    const session = await this.db.selectFrom('publishing_sessions').selectAll().where('token', '=', token).executeTakeFirst();
    if (!session) throw new CairnError('session.not_found', 'no such publishing session (it may have expired and been swept)');
    // The project's rule applies to every session of it, also one opened before the rule was set.
    return { ...session, require_provenance: session.require_provenance ?? (await this.projectPolicy(session.normalized_name)) };
  }

  private assertUsable(session: SessionRow, options: { allowEnded?: boolean } = {}): void {
    if (session.status === 'canceled' && !options.allowEnded) throw new CairnError('session.canceled', 'the session was canceled');
    if (session.status === 'published' && !options.allowEnded) throw new CairnError('session.published', `the session was published at ${session.ended_at}`);
    if (session.status === 'pending' && session.expires_at <= this.now().toISOString()) {
      throw new CairnError('session.expired', `the session expired at ${session.expires_at}; create a new one`);
    }
  }

  /** Every request of a session re-checks that its credentials may upload to the session's project. */
  private async authorizedSession(principal: TokenPrincipal, token: string, options: { allowEnded?: boolean } = {}): Promise<SessionRow> {
    const session = await this.sessionByToken(token);
    const project = await this.projectNamed(session.normalized_name);
    if (!project && principal.scope === 'new_projects' && principal.tokenId !== session.created_by_token_id) {
      throw new CairnError('auth.forbidden', `The user isn't allowed to use this session: '${session.project_name}' is reserved for the token that created the session`);
    }
    await this.options.tokens.assertMayUpload(principal, project, session.project_name);
    this.assertUsable(session, options);
    return session;
  }

  private async projectNamed(normalizedName: string): Promise<{ id: number; normalizedName: string } | null> {
    const row = await this.db.selectFrom('projects').select(['id', 'normalized_name']).where('normalized_name', '=', normalizedName).executeTakeFirst();
    return row ? { id: row.id, normalizedName: row.normalized_name } : null;
  }

  /** A session for a name no project has yet reserves it for the token that opened the session. */
  private async assertNameNotReserved(principal: TokenPrincipal, normalizedName: string, requestedName: string): Promise<void> {
    const holder = await this.db
      .selectFrom('publishing_sessions')
      .select(['created_by_token_id', 'expires_at'])
      .where('normalized_name', '=', normalizedName)
      .where('status', '=', 'pending')
      .where('expires_at', '>', this.now().toISOString())
      .where('created_by_token_id', '!=', principal.tokenId)
      .executeTakeFirst();
    if (holder) {
      throw new CairnError('session.name_reserved', `the name '${requestedName}' is reserved by another owner's publishing session until ${holder.expires_at}`);
    }
  }

  private async discard(session: SessionRow, status: 'canceled'): Promise<void> {
    const now = this.now().toISOString();
    const files = await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('publishing_sessions').set({ status, ended_at: now }).where('id', '=', session.id).where('status', '=', 'pending').execute();
      const files = await trx.selectFrom('session_files').select(['id', 'sha256']).where('session_id', '=', session.id).execute();
      // Intents first: a crash between this commit and the blob removal leaves blobs that start-up recovery removes.
      for (const { sha256 } of files) await trx.insertInto('blob_intents').values({ sha256, created_at: now }).onConflict((oc) => oc.doNothing()).execute();
      if (files.length > 0) await trx.deleteFrom('session_attestations').where('session_file_id', 'in', files.map((f) => f.id)).execute();
      await trx.deleteFrom('session_files').where('session_id', '=', session.id).execute();
      return files;
    });
    for (const { sha256 } of files) await this.releaseBlob(sha256);
  }

  private async releaseBlob(sha256: string): Promise<void> {
    if (!(await blobReferenced(this.db, sha256))) await this.options.blobs.remove(sha256);
    await this.db.deleteFrom('blob_intents').where('sha256', '=', sha256).execute();
  }

  private async stateOf(session: SessionRow): Promise<SessionState> {
    const files = await this.stagedFiles(session.id);
    const nowIso = this.now().toISOString();
    const ids = files.map((f) => f.id);
    const staged = ids.length === 0 ? [] : await this.db.selectFrom('session_attestations').select(['session_file_id', 'kind']).where('session_file_id', 'in', ids).execute();
    const pending =
      files.length === 0
        ? []
        : await this.db
            .selectFrom('pending_provenance')
            .select(['filename', 'sha256'])
            .where('filename', 'in', files.map((f) => f.filename))
            .where('expires_at', '>', nowIso)
            .execute();
    const fileStates = files.map((f): StagedFileState => ({
      filename: f.filename,
      sha256: f.sha256,
      size: Number(f.size),
      // Pending entries are build provenance verified at submission (DESIGN §4).
      buildProvenance: staged.some((a) => a.session_file_id === f.id && a.kind === 'build') || pending.some((p) => p.filename === f.filename && p.sha256 === f.sha256),
      publishAttestation: staged.some((a) => a.session_file_id === f.id && a.kind === 'publish'),
      uploadedAt: f.uploaded_at,
    }));
    const expectedFiles = session.expected_files ? (JSON.parse(session.expected_files) as string[]) : null;
    const missing: MissingItem[] = [];
    if (session.status === 'pending') {
      for (const filename of expectedFiles ?? []) if (!files.some((f) => f.filename === filename)) missing.push({ filename, missing: 'file' });
      if (session.require_provenance === 'build') for (const f of fileStates) if (!f.buildProvenance) missing.push({ filename: f.filename, missing: 'build-provenance' });
    }
    return {
      token: session.token,
      project: session.project_name,
      normalizedName: session.normalized_name,
      version: session.version,
      status: session.status,
      expiresAt: session.expires_at,
      requireProvenance: session.require_provenance,
      expectedFiles,
      files: fileStates,
      missing,
    };
  }
}
