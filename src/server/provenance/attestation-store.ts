import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { provenanceObjectText, type AttestationFacts, type StoredAttestation } from '../../formats/provenance-object.ts';
import type { Database } from '../storage/schema.ts';
import type { CatalogueListener, RemovedFile } from '../pages/catalogue-changes.ts';

/** What the index verified of one attestation: the signer's facts and the signed statement's digest. */
export interface IndexVerification {
  statementSha256: string;
  facts: AttestationFacts;
  publisher: Record<string, unknown> | null;
}

/** An attestation that passed verification, ready to be stored. */
export interface VerifiedForIndex extends IndexVerification {
  /** The attestation's JSON text exactly as the client sent it (DESIGN §4: stored byte for byte). */
  receivedText: string;
}

/**
 * Files are immutable and attestations append-only, so caps keep one file's list bounded: at most
 * 32 first-party attestations and 32 third-party ones, of which one signer may hold only 4 — a
 * stranger with one identity cannot fill the list and lock out real rebuilders (issue 11).
 */
export const MAX_ATTESTATIONS_PER_FILE = 32;
export const MAX_THIRD_PARTY_PER_SIGNER = 4;

export interface AppendOptions {
  submittedBeforeUpload: boolean;
  /** Whether the project vouches for these attestations (docs/decisions.md, "first-party"). */
  firstParty: boolean;
  now: Date;
}

export class AttestationStore implements CatalogueListener {
  constructor(private readonly db: Kysely<Database>) {}

  /** A deleted file's attestations go with it (append-only means never edited, not never deleted). */
  async filesRemoved(trx: Kysely<Database>, files: readonly RemovedFile[]): Promise<void> {
    if (files.length > 0) await trx.deleteFrom('attestations').where('file_id', 'in', files.map((f) => f.id)).execute();
  }

  /**
   * Appends attestations to a file inside the caller's transaction (the upload's or the
   * submission's, so the file and its provenance commit together). The same statement from the
   * same signer is stored once (idempotent), so a retried submission does not duplicate rows.
   */
  async append(trx: Kysely<Database>, fileId: number, items: VerifiedForIndex[], options: AppendOptions): Promise<number> {
    const existing = await trx
      .selectFrom('attestations')
      .select(['statement_sha256', 'signer_issuer', 'signer_identity', 'first_party'])
      .where('file_id', '=', fileId)
      .execute();
    const seen = new Set(existing.map((e) => `${e.statement_sha256} ${e.signer_identity}`));
    const party = options.firstParty ? 1 : 0;
    const ofParty = existing.filter((e) => e.first_party === party);
    let partyCount = ofParty.length;
    const bySigner = new Map<string, number>();
    for (const e of ofParty) bySigner.set(`${e.signer_issuer} ${e.signer_identity}`, (bySigner.get(`${e.signer_issuer} ${e.signer_identity}`) ?? 0) + 1);
    let added = 0;
    for (const item of items) {
      const key = `${item.statementSha256} ${item.facts.identity}`;
      if (seen.has(key)) continue;
      const who = options.firstParty ? 'first-party' : 'third-party';
      if (partyCount >= MAX_ATTESTATIONS_PER_FILE) {
        throw new CairnError('provenance.cap_reached', `the file already carries ${MAX_ATTESTATIONS_PER_FILE} ${who} attestations, the most one file may have`);
      }
      const signer = `${item.facts.issuer} ${item.facts.identity}`;
      const signerCount = bySigner.get(signer) ?? 0;
      if (!options.firstParty && signerCount >= MAX_THIRD_PARTY_PER_SIGNER) {
        throw new CairnError(
          'provenance.cap_reached',
          `signer ${item.facts.identity} already has ${MAX_THIRD_PARTY_PER_SIGNER} attestations on this file, the most one third-party signer may add`,
        );
      }
      await trx
        .insertInto('attestations')
        .values({
          file_id: fileId,
          kind: item.facts.kind,
          predicate_type: item.facts.predicateType,
          raw_json: item.receivedText,
          statement_sha256: item.statementSha256,
          signer_issuer: item.facts.issuer,
          signer_identity: item.facts.identity,
          facts_json: JSON.stringify(item.facts),
          publisher_json: item.publisher ? JSON.stringify(item.publisher) : null,
          submitted_before_upload: options.submittedBeforeUpload ? 1 : 0,
          first_party: party,
          bound_at: options.now.toISOString(),
        })
        .execute();
      seen.add(key);
      bySigner.set(signer, signerCount + 1);
      partyCount++;
      added++;
    }
    return added;
  }

  async attestationsOfFile(fileId: number): Promise<StoredAttestation[]> {
    const rows = await this.db.selectFrom('attestations').selectAll().where('file_id', '=', fileId).orderBy('id').execute();
    return rows.map((r) => ({
      storedText: r.raw_json,
      facts: JSON.parse(r.facts_json) as AttestationFacts,
      publisher: r.publisher_json ? (JSON.parse(r.publisher_json) as Record<string, unknown>) : null,
      submittedBeforeUpload: r.submitted_before_upload === 1,
      firstParty: r.first_party === 1,
      boundAt: r.bound_at,
    }));
  }

  /** The integrity API's PEP 740 provenance object as JSON text, or null when the file has no attestations. */
  async provenanceObjectText(fileId: number): Promise<string | null> {
    const attestations = await this.attestationsOfFile(fileId);
    return attestations.length === 0 ? null : provenanceObjectText(attestations);
  }

  /** Which of these files carry at least one first-party attestation (the simple API's `provenance` key). */
  async filesWithAttestations(fileIds: number[]): Promise<Set<number>> {
    if (fileIds.length === 0) return new Set();
    const found = new Set<number>();
    for (let i = 0; i < fileIds.length; i += 500) {
      const rows = await this.db
        .selectFrom('attestations')
        .select('file_id')
        .distinct()
        .where('first_party', '=', 1)
        .where('file_id', 'in', fileIds.slice(i, i + 500))
        .execute();
      for (const r of rows) found.add(r.file_id);
    }
    return found;
  }
}
