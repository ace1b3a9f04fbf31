import { createHash } from 'node:crypto';
import { CairnError } from '../../errors.ts';
import { receivedArrayElements } from '../../formats/json-source.ts';
import type { AttestationFacts } from '../../formats/provenance-object.ts';
import type { TokenPrincipal } from '../auth/tokens.ts';
import type { UploadForm, UploadPrecheck } from '../upload/upload-service.ts';
import type { AttestationStore, VerifiedForIndex } from './attestation-store.ts';
import type { PendingProvenanceService, VerifyForIndex } from './pending-provenance.ts';

/** The trusted publisher behind a publishing token, as far as attestation checks need it. */
export interface UploadPublisher {
  /** PEP 740 publisher object (PyPI shape: kind, repository, workflow, environment, claims). */
  publisher: Record<string, unknown>;
  /** Null when the signer is this publisher, else why not. */
  mismatch(facts: AttestationFacts): string | null;
}

export type PublisherLookup = (principal: TokenPrincipal) => Promise<UploadPublisher | null>;

export const MAX_ATTESTATIONS_FIELD_BYTES = 512 * 1024;
export const MAX_ATTESTATIONS_PER_UPLOAD = 8;

/**
 * PEP 740 at upload: the optional `attestations` form field (a JSON array). Every attestation is
 * verified before anything is stored; one failure refuses the whole upload. Publish attestations
 * must be signed by the trusted publisher that authorised the upload; build provenance is accepted
 * from any signer and recorded with who signed it. Pending build provenance for the same file is
 * bound in the same transaction.
 */
export function uploadAttestationsPrecheck(
  verify: VerifyForIndex,
  attestations: AttestationStore,
  pending: PendingProvenanceService,
  publisherOf: PublisherLookup,
  clock: () => Date,
): UploadPrecheck {
  const verifyForm = formAttestationsVerifier(verify, pending, publisherOf);
  return async (form, file) => {
    const items = await verifyForm(form, file);
    return async (trx, stored) => {
      if (items.length > 0) await attestations.append(trx, stored.id, items, { submittedBeforeUpload: true, firstParty: true, now: clock() });
      await pending.bindOnUpload(trx, stored);
    };
  };
}

/** Verifies the `attestations` field of an upload form (a plain or a staged upload) and returns what to store. */
export type FormAttestationsVerifier = (
  form: UploadForm,
  file: { parsed: { filename: string }; sha256: string; principal: TokenPrincipal },
) => Promise<VerifiedForIndex[]>;

export function formAttestationsVerifier(verify: VerifyForIndex, pending: PendingProvenanceService, publisherOf: PublisherLookup): FormAttestationsVerifier {
  return async (form, file) => {
    const field = form.fields.get('attestations');
    const items: VerifiedForIndex[] = [];
    let publisher: UploadPublisher | null = null;
    if (field !== undefined && field.trim() !== '') {
      if (Buffer.byteLength(field) > MAX_ATTESTATIONS_FIELD_BYTES) {
        throw new CairnError('attestation.too_large', `the attestations field exceeds ${MAX_ATTESTATIONS_FIELD_BYTES} bytes`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(field);
      } catch (error) {
        throw new CairnError('attestation.malformed', `the attestations field is not valid JSON: ${(error as Error).message}`);
      }
      if (!Array.isArray(parsed) || parsed.length === 0) {
        throw new CairnError('attestation.malformed', 'the attestations field must be a non-empty JSON array of PEP 740 attestation objects');
      }
      if (parsed.length > MAX_ATTESTATIONS_PER_UPLOAD) {
        throw new CairnError('attestation.malformed', `at most ${MAX_ATTESTATIONS_PER_UPLOAD} attestations per file, got ${parsed.length}`);
      }
      const seen = new Set<string>();
      // Each attestation is stored as the client wrote it, so its text is cut from the field's text.
      for (const attestation of receivedArrayElements({ value: parsed, text: field }, 'attestation.malformed')) {
        const key = createHash('sha256').update(JSON.stringify(attestation.value)).digest('hex');
        if (seen.has(key)) throw new CairnError('attestation.duplicate', 'the same attestation appears twice in the upload');
        seen.add(key);
        const artifact = { filename: file.parsed.filename, sha256: file.sha256 };
        const kindProbe = verify(attestation, artifact);
        if (kindProbe.facts.kind === 'other') {
          throw new CairnError('attestation.unknown_predicate', `unsupported predicate type ${kindProbe.facts.predicateType}: cairn accepts ${'https://docs.pypi.org/attestations/publish/v1'} and https://slsa.dev/provenance/v1`);
        }
        if (kindProbe.facts.kind === 'build') {
          items.push(pending.checkBuildProvenance(kindProbe));
          continue;
        }
        publisher ??= await publisherOf(file.principal);
        if (!publisher) {
          throw new CairnError('attestation.publisher_mismatch', 'publish attestations need an upload authorised by a trusted publisher (OIDC token exchange), not an API token');
        }
        const why = publisher.mismatch(kindProbe.facts);
        if (why) throw new CairnError('attestation.publisher_mismatch', `the publish attestation was not signed by the trusted publisher: ${why}`);
        items.push({ ...kindProbe, publisher: publisher.publisher });
      }
      const statements = new Set<string>();
      for (const item of items) {
        const key = `${item.statementSha256} ${item.facts.identity}`;
        if (statements.has(key)) throw new CairnError('attestation.duplicate', 'two attestations carry the same statement from the same signer');
        statements.add(key);
      }
    }
    return items;
  };
}
