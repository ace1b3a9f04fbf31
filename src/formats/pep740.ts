import type { SerializedBundle } from '@sigstore/bundle';
import { CairnError } from '../errors.ts';

/**
 * PEP 740 attestation objects (snake_case, as PyPI and pypi-attestations write them) and their
 * conversion to and from Sigstore bundles v0.3. The transparency entries are the protobuf-JSON
 * `TransparencyLogEntry` form (camelCase) in both, so they are carried over untouched.
 */

export type TransparencyEntry = SerializedBundle['verificationMaterial']['tlogEntries'][number];

export interface Pep740Attestation {
  version: 1;
  verification_material: {
    /** base64 DER of the signing (leaf) certificate. */
    certificate: string;
    transparency_entries: TransparencyEntry[];
  };
  envelope: {
    /** base64 of the in-toto statement bytes (the DSSE payload). */
    statement: string;
    /** base64 DSSE signature. */
    signature: string;
  };
}

export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function malformed(message: string): never {
  throw new CairnError('attestation.malformed', message);
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed(`${where} must be a JSON object`);
  return value as Record<string, unknown>;
}

function base64Field(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value.length === 0) malformed(`${where}.${key} must be a non-empty base64 string`);
  if (!BASE64.test(value)) malformed(`${where}.${key} is not valid (padded, standard-alphabet) base64`);
  return value;
}

/**
 * Checks the shape of a PEP 740 attestation object. Cryptographic checks come later; this only
 * guarantees the fields a verifier reads are there with the right types. Unknown keys are ignored
 * (as pypi-attestations does), so a future minor addition does not break reading.
 */
export function parseAttestation(json: unknown): Pep740Attestation {
  const top = asRecord(json, 'the attestation');
  if (top.version !== 1) malformed(`attestation version must be 1, got ${JSON.stringify(top.version ?? null)}`);
  const material = asRecord(top.verification_material, 'verification_material');
  const certificate = base64Field(material, 'certificate', 'verification_material');
  const entries = material.transparency_entries;
  if (!Array.isArray(entries)) malformed('verification_material.transparency_entries must be an array');
  entries.forEach((entry, i) => {
    const e = asRecord(entry, `verification_material.transparency_entries[${i}]`);
    // Protobuf JSON omits int64 fields holding their default: a log's first entry has no logIndex.
    if (e.logIndex !== undefined && !(typeof e.logIndex === 'number' || (typeof e.logIndex === 'string' && /^\d+$/.test(e.logIndex)))) {
      malformed(`verification_material.transparency_entries[${i}].logIndex must be a decimal integer`);
    }
    if (typeof e.canonicalizedBody !== 'string') {
      malformed(`verification_material.transparency_entries[${i}].canonicalizedBody is missing`);
    }
  });
  const envelope = asRecord(top.envelope, 'envelope');
  const statement = base64Field(envelope, 'statement', 'envelope');
  const signature = base64Field(envelope, 'signature', 'envelope');
  return {
    version: 1,
    verification_material: { certificate, transparency_entries: structuredClone(entries) as TransparencyEntry[] },
    envelope: { statement, signature },
  };
}

/** A PEP 740 attestation as the Sigstore bundle v0.3 it stands for (DSSE, single certificate). */
export function attestationToBundle(attestation: Pep740Attestation): SerializedBundle {
  const bundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      certificate: { rawBytes: attestation.verification_material.certificate },
      tlogEntries: structuredClone(attestation.verification_material.transparency_entries),
    },
    dsseEnvelope: {
      payload: attestation.envelope.statement,
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: attestation.envelope.signature, keyid: '' }],
    },
  };
  // A PEP 740 object carries no RFC 3161 timestamps; the key is left out rather than set to
  // undefined so the bundle serialises exactly as written.
  return bundle as SerializedBundle;
}

/**
 * Tells a Sigstore bundle from a PEP 740 object by its discriminating keys (`mediaType` +
 * `verificationMaterial` vs `version` + `verification_material`); no validation beyond that.
 */
export function isSigstoreBundle(json: unknown): json is SerializedBundle {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const r = json as Record<string, unknown>;
  return typeof r.mediaType === 'string' && r.mediaType.startsWith('application/vnd.dev.sigstore.bundle') && 'verificationMaterial' in r;
}

/**
 * The PEP 740 form of a DSSE bundle. Bundles with an `x509CertificateChain` contribute their leaf
 * (PEP 740 has room for one certificate). RFC 3161 timestamps have no place in PEP 740 and are
 * dropped: the attestation then relies on its transparency entries' signed timestamps.
 */
export function bundleToAttestation(bundle: unknown): Pep740Attestation {
  const b = asRecord(bundle, 'the Sigstore bundle');
  if (typeof b.mediaType !== 'string' || !b.mediaType.startsWith('application/vnd.dev.sigstore.bundle')) {
    malformed(`not a Sigstore bundle: mediaType ${JSON.stringify(b.mediaType ?? null)}`);
  }
  const material = asRecord(b.verificationMaterial, 'verificationMaterial');
  let certificate: unknown;
  if (material.certificate !== undefined) {
    certificate = asRecord(material.certificate, 'verificationMaterial.certificate').rawBytes;
  } else if (material.x509CertificateChain !== undefined) {
    const chain = asRecord(material.x509CertificateChain, 'verificationMaterial.x509CertificateChain').certificates;
    if (!Array.isArray(chain) || chain.length === 0) malformed('verificationMaterial.x509CertificateChain has no certificates');
    certificate = asRecord(chain[0], 'verificationMaterial.x509CertificateChain.certificates[0]').rawBytes;
  } else {
    malformed('PEP 740 attestations need a signing certificate; this bundle has none (public-key bundles cannot be converted)');
  }
  if (b.dsseEnvelope === undefined) malformed('PEP 740 attestations are DSSE envelopes; this bundle carries a message signature');
  const envelope = asRecord(b.dsseEnvelope, 'dsseEnvelope');
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    malformed(`dsseEnvelope.payloadType must be ${IN_TOTO_PAYLOAD_TYPE}, got ${JSON.stringify(envelope.payloadType ?? null)}`);
  }
  const signatures = envelope.signatures;
  if (!Array.isArray(signatures) || signatures.length !== 1) malformed('dsseEnvelope must carry exactly one signature');
  const signature = asRecord(signatures[0], 'dsseEnvelope.signatures[0]').sig;
  const tlogEntries = material.tlogEntries ?? [];
  return parseAttestation({
    version: 1,
    verification_material: { certificate, transparency_entries: tlogEntries },
    envelope: { statement: envelope.payload, signature },
  });
}
