import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { isCommitDigest, isSha256Hex } from '../../formats/digests.ts';
import { parseDistributionFilename } from '../../formats/dist-filename.ts';
import { receivedArrayElements, receivedMember, type ReceivedJson } from '../../formats/json-source.ts';
import { sameRepository } from '../../formats/slsa-provenance.ts';
import type { Database } from '../storage/schema.ts';
import type { CatalogueChanges, RecordedChange } from '../pages/catalogue-changes.ts';
import type { AttestationStore, VerifiedForIndex } from './attestation-store.ts';

/**
 * Verifies one attestation for one artifact and keeps its received text; the same code path serves
 * uploads and submissions (DESIGN §4).
 */
export type VerifyForIndex = (attestation: ReceivedJson, artifact: { filename: string; sha256: string }) => VerifiedForIndex;

/**
 * Caps on live pending entries (issue 11). None counts per filename alone: filenames are
 * predictable, and a cap any stranger could fill for the next release's name would block the real
 * builder's submission. The per-file cap counts one (filename, sha256) — a digest nobody knows
 * before the build — and no signer may take more than a few of its places.
 */
export interface PendingLimits {
  ttlSeconds: number;
  /** Live pending entries one signing identity may hold (a runaway builder cannot fill the table). */
  maxPerSigner: number;
  /** Live pending entries for one (filename, sha256): different builders of the same file. */
  maxPerFile: number;
  /** Live pending entries one signer may hold for one (filename, sha256). */
  maxPerSignerPerFile: number;
  maxAttestationsPerSubmission: number;
}

export const DEFAULT_PENDING_LIMITS: PendingLimits = { ttlSeconds: 24 * 3600, maxPerSigner: 200, maxPerFile: 16, maxPerSignerPerFile: 4, maxAttestationsPerSubmission: 8 };

/**
 * Whether the project vouches for an attestation bound after its file was public: the certificate
 * says it was signed in a repository of one of the project's trusted publishers.
 */
export type ProjectVouching = (trx: Kysely<Database>, projectId: number, facts: VerifiedForIndex['facts']) => Promise<boolean>;

/** What `cairn admin provenance purge` selects; given fields must all match. */
export interface PendingSelector {
  id?: number;
  filename?: string;
  signer?: string;
}

export interface PendingEntry {
  id: number;
  filename: string;
  sha256: string;
  signer_issuer: string;
  signer_identity: string;
  created_at: string;
  expires_at: string;
}

export interface SubmissionResult {
  status: 'pending' | 'bound';
  filename: string;
  sha256: string;
  expires_at: string | null;
  signer: { issuer: string; identity: string }[];
  submitted_before_upload: boolean;
  /** The file waits, staged, in a publishing session: the entry lives as long as the session does. */
  staged: boolean;
  /** False when bound after the upload as a third party's: listed apart, changing nothing the index says of the release. */
  first_party: boolean;
}

function asSubmission(body: ReceivedJson, maxAttestations: number): { filename: string; sha256: string; attestations: ReceivedJson[] } {
  if (typeof body.value !== 'object' || body.value === null || Array.isArray(body.value)) {
    throw new CairnError('provenance.malformed', 'the body must be a JSON object {filename, sha256, attestations}');
  }
  const { filename, sha256, attestations } = body.value as Record<string, unknown>;
  if (typeof filename !== 'string') throw new CairnError('provenance.malformed', "'filename' must be a string");
  if (typeof sha256 !== 'string' || !isSha256Hex(sha256)) throw new CairnError('provenance.malformed', "'sha256' must be 64 lowercase hex characters");
  if (!Array.isArray(attestations) || attestations.length === 0) {
    throw new CairnError('provenance.malformed', "'attestations' must be a non-empty array of PEP 740 attestation objects");
  }
  if (attestations.length > maxAttestations) {
    throw new CairnError('provenance.malformed', `at most ${maxAttestations} attestations per submission, got ${attestations.length}`);
  }
  // Each attestation is stored as the client wrote it, so its text is cut from the body's text.
  const received = receivedArrayElements(receivedMember(body, 'attestations', 'provenance.malformed')!, 'provenance.malformed');
  return { filename, sha256, attestations: received };
}

/**
 * Build provenance submitted before its file exists (DESIGN §1 step 3, §4): verified, then kept
 * pending under (filename, sha256) until the upload of that exact file binds it, or it expires.
 */
export class PendingProvenanceService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly attestations: AttestationStore,
    private readonly verify: VerifyForIndex,
    private readonly clock: () => Date,
    private readonly limits: PendingLimits,
    /** Re-renders the pages of a project whose listed file gains provenance (the link appears). */
    private readonly changes: CatalogueChanges,
    private readonly projectVouches: ProjectVouching,
  ) {}

  /** Verification of build provenance with the checks specific to a builder's submission. */
  verifyBuildProvenance(attestation: ReceivedJson, artifact: { filename: string; sha256: string }): VerifiedForIndex {
    return this.checkBuildProvenance(this.verify(attestation, artifact));
  }

  /** The build-specific checks on an attestation whose signature and subject already verified. */
  checkBuildProvenance(verified: VerifiedForIndex): VerifiedForIndex {
    const f = verified.facts;
    if (f.kind !== 'build') {
      throw new CairnError('provenance.predicate_unsupported', `build provenance must use predicate https://slsa.dev/provenance/v1, got ${f.predicateType}`);
    }
    if (!f.statementRepository || !f.statementCommit) {
      throw new CairnError('provenance.malformed', 'the provenance must name externalParameters.source.repository and a 40/64-hex source.commit');
    }
    if (!isCommitDigest(f.statementCommit)) {
      throw new CairnError('provenance.malformed', `source.commit must be a full 40- or 64-hex commit digest, got '${f.statementCommit}'`);
    }
    // The certificate vouches for the repository and commit the CI ran on; the statement must agree.
    if (f.sourceRepositoryUri && !sameRepository(f.sourceRepositoryUri, f.statementRepository)) {
      throw new CairnError('provenance.source_mismatch', `the statement names repository ${f.statementRepository} but the certificate was issued for ${f.sourceRepositoryUri}`);
    }
    if (f.sourceRepositoryDigest && f.sourceRepositoryDigest !== f.statementCommit) {
      throw new CairnError('provenance.source_mismatch', `the statement names commit ${f.statementCommit} but the certificate was issued for ${f.sourceRepositoryDigest}`);
    }
    return verified;
  }

  /** A builder's submission: the parsed body with its exact text (`POST /_/provenance`). */
  async submit(body: ReceivedJson): Promise<SubmissionResult> {
    const submission = asSubmission(body, this.limits.maxAttestationsPerSubmission);
    // Refuses a name that is not a distribution filename before any verification work.
    parseDistributionFilename(submission.filename);
    const artifact = { filename: submission.filename, sha256: submission.sha256 };
    const verified = submission.attestations.map((a) => this.verifyBuildProvenance(a, artifact));
    const now = this.clock();
    const signers = verified.map((v) => ({ issuer: v.facts.issuer, identity: v.facts.identity }));

    let change: RecordedChange | null = null;
    const result = await this.db.transaction().execute(async (trx): Promise<SubmissionResult> => {
      const file = await trx.selectFrom('files').select(['id', 'sha256', 'project_id']).where('filename', '=', submission.filename).executeTakeFirst();
      if (file) {
        if (file.sha256 !== submission.sha256) {
          throw new CairnError('provenance.digest_mismatch', `the index holds ${submission.filename} with sha256 ${file.sha256}, not ${submission.sha256}`);
        }
        // A rebuilder vouching for a file already published: bound at once, flagged as such, and
        // third-party unless the certificate says it comes from the project's own repository.
        const firstParty: VerifiedForIndex[] = [];
        const thirdParty: VerifiedForIndex[] = [];
        for (const item of verified) (await this.projectVouches(trx, file.project_id, item.facts) ? firstParty : thirdParty).push(item);
        if (firstParty.length > 0) await this.attestations.append(trx, file.id, firstParty, { submittedBeforeUpload: false, firstParty: true, now });
        if (thirdParty.length > 0) await this.attestations.append(trx, file.id, thirdParty, { submittedBeforeUpload: false, firstParty: false, now });
        change = await this.changes.projectChanged(trx, file.project_id);
        return {
          status: 'bound',
          filename: submission.filename,
          sha256: submission.sha256,
          expires_at: null,
          signer: signers,
          submitted_before_upload: false,
          first_party: thirdParty.length === 0,
          staged: false,
        };
      }

      let expiresAt = new Date(now.getTime() + this.limits.ttlSeconds * 1000).toISOString();
      // A file staged in a publishing session may wait longer than the pending TTL for its publish;
      // its provenance must not expire before the session does.
      const staged = await trx
        .selectFrom('session_files')
        .innerJoin('publishing_sessions', 'publishing_sessions.id', 'session_files.session_id')
        .select('publishing_sessions.expires_at')
        .where('session_files.filename', '=', submission.filename)
        .where('session_files.sha256', '=', submission.sha256)
        .where('publishing_sessions.status', '=', 'pending')
        .where('publishing_sessions.expires_at', '>', now.toISOString())
        .executeTakeFirst();
      if (staged && staged.expires_at > expiresAt) expiresAt = staged.expires_at;
      const live = (q: ReturnType<typeof trx.selectFrom<'pending_provenance'>>) => q.where('expires_at', '>', now.toISOString());
      let expiry = expiresAt;
      for (const item of verified) {
        const existing = await trx
          .selectFrom('pending_provenance')
          .select(['id', 'expires_at'])
          .where('filename', '=', submission.filename)
          .where('sha256', '=', submission.sha256)
          .where('statement_sha256', '=', item.statementSha256)
          .where('signer_identity', '=', item.facts.identity)
          .executeTakeFirst();
        if (existing) {
          // Idempotent: the same statement from the same signer refreshes nothing and adds no row.
          expiry = existing.expires_at;
          continue;
        }
        const bySigner = await live(trx.selectFrom('pending_provenance'))
          .select((eb) => eb.fn.countAll().as('n'))
          .where('signer_identity', '=', item.facts.identity)
          .executeTakeFirstOrThrow();
        if (Number(bySigner.n) >= this.limits.maxPerSigner) {
          throw new CairnError('provenance.rate_limited', `signer ${item.facts.identity} already has ${this.limits.maxPerSigner} pending submissions; upload the files or wait for entries to expire`);
        }
        const forFile = await live(trx.selectFrom('pending_provenance'))
          .select(['signer_issuer', 'signer_identity'])
          .where('filename', '=', submission.filename)
          .where('sha256', '=', submission.sha256)
          .execute();
        if (forFile.length >= this.limits.maxPerFile) {
          throw new CairnError('provenance.rate_limited', `${submission.filename} with sha256 ${submission.sha256} already has ${this.limits.maxPerFile} pending submissions`);
        }
        const mine = forFile.filter((r) => r.signer_issuer === item.facts.issuer && r.signer_identity === item.facts.identity).length;
        if (mine >= this.limits.maxPerSignerPerFile) {
          throw new CairnError(
            'provenance.rate_limited',
            `signer ${item.facts.identity} already has ${this.limits.maxPerSignerPerFile} pending submissions for ${submission.filename} with this sha256, the most one signer may hold for one file`,
          );
        }
        await trx
          .insertInto('pending_provenance')
          .values({
            filename: submission.filename,
            sha256: submission.sha256,
            predicate_type: item.facts.predicateType,
            raw_json: item.receivedText,
            statement_sha256: item.statementSha256,
            signer_issuer: item.facts.issuer,
            signer_identity: item.facts.identity,
            facts_json: JSON.stringify(item.facts),
            created_at: now.toISOString(),
            expires_at: expiresAt,
          })
          .execute();
      }
      return { status: 'pending', filename: submission.filename, sha256: submission.sha256, expires_at: expiry, signer: signers, submitted_before_upload: true, first_party: true, staged: staged !== undefined };
    });
    if (change) this.changes.published(change);
    return result;
  }

  /** Runs inside the upload transaction: binds every live pending entry for exactly this file. */
  async bindOnUpload(trx: Kysely<Database>, file: { id: number; filename: string; sha256: string }): Promise<number> {
    const now = this.clock();
    const pending = await trx
      .selectFrom('pending_provenance')
      .selectAll()
      .where('filename', '=', file.filename)
      .where('sha256', '=', file.sha256)
      .where('expires_at', '>', now.toISOString())
      .orderBy('id')
      .execute();
    const bound = await this.attestations.append(
      trx,
      file.id,
      pending.map((p) => ({ receivedText: p.raw_json, statementSha256: p.statement_sha256, facts: JSON.parse(p.facts_json), publisher: null })),
      { submittedBeforeUpload: true, firstParty: true, now },
    );
    await trx.deleteFrom('pending_provenance').where('filename', '=', file.filename).where('sha256', '=', file.sha256).execute();
    return bound;
  }

  async listPending(): Promise<PendingEntry[]> {
    return this.db
      .selectFrom('pending_provenance')
      .select(['id', 'filename', 'sha256', 'signer_issuer', 'signer_identity', 'created_at', 'expires_at'])
      .where('expires_at', '>', this.clock().toISOString())
      .orderBy('id')
      .execute();
  }

  /**
   * Removes the pending entries (live or expired) that match every field given, and returns them:
   * the operator's answer to junk that holds places a real builder needs. A selector naming
   * nothing is refused, so a slip cannot empty the table.
   */
  async purge(selector: PendingSelector): Promise<PendingEntry[]> {
    if (selector.id === undefined && selector.filename === undefined && selector.signer === undefined) {
      throw new CairnError('usage.invalid_argument', 'say what to purge: --signer IDENTITY, --filename NAME or --id ID (several narrow the selection)');
    }
    return this.db.transaction().execute(async (trx) => {
      let query = trx.selectFrom('pending_provenance').select(['id', 'filename', 'sha256', 'signer_issuer', 'signer_identity', 'created_at', 'expires_at']);
      if (selector.id !== undefined) query = query.where('id', '=', selector.id);
      if (selector.filename !== undefined) query = query.where('filename', '=', selector.filename);
      if (selector.signer !== undefined) query = query.where('signer_identity', '=', selector.signer);
      const rows = await query.orderBy('id').execute();
      for (let i = 0; i < rows.length; i += 500) {
        await trx.deleteFrom('pending_provenance').where('id', 'in', rows.slice(i, i + 500).map((r) => r.id)).execute();
      }
      return rows;
    });
  }

  async countPending(): Promise<number> {
    const row = await this.db
      .selectFrom('pending_provenance')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('expires_at', '>', this.clock().toISOString())
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** The background sweep: expired entries go. */
  async sweepExpired(): Promise<number> {
    const now = this.clock().toISOString();
    // Looked up first: a read never waits, but a DELETE, even one that matches nothing, waits for
    // the write lock, and on SQLite that wait blocks the event loop while a bulk import holds it.
    const expired = await this.db.selectFrom('pending_provenance').select('id').where('expires_at', '<=', now).limit(1).execute();
    if (expired.length === 0) return 0;
    const result = await this.db.deleteFrom('pending_provenance').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
