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
    /**
     * Optional: base64 DER RFC 3161 time-stamp responses over the envelope's signature, from a
     * timestamp authority. The open PEP 740 change (pypa/packaging.python.org#1936,
     * pypi-attestations#143, tracked in #147) that lets an attestation carry the trusted time a
     * Rekor v2 entry no longer has. Absent (not empty) when there are none, so today's shape is
     * unchanged.
     */
    timestamps?: string[];
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
  const timestamps = parseTimestamps(material.timestamps);
  const envelope = asRecord(top.envelope, 'envelope');
  const statement = base64Field(envelope, 'statement', 'envelope');
  const signature = base64Field(envelope, 'signature', 'envelope');
  return {
    version: 1,
    verification_material: { certificate, transparency_entries: structuredClone(entries) as TransparencyEntry[], ...(timestamps ? { timestamps } : {}) },
    envelope: { statement, signature },
  };
}

/** `verification_material.timestamps`: absent or null, or a list of base64 RFC 3161 responses. */
function parseTimestamps(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const bad = (message: string): never => {
    throw new CairnError('attestation.timestamp_malformed', message);
  };
  if (!Array.isArray(value)) bad('verification_material.timestamps must be a list of base64 RFC 3161 timestamps');
  return (value as unknown[]).map((item, i) => {
    if (typeof item !== 'string' || item.length === 0 || !BASE64.test(item)) {
      bad(`verification_material.timestamps[${i}] is not valid (padded, standard-alphabet) base64`);
    }
    return item as string;
  });
}

/** A PEP 740 attestation as the Sigstore bundle v0.3 it stands for (DSSE, single certificate). */
export function attestationToBundle(attestation: Pep740Attestation): SerializedBundle {
  const timestamps = attestation.verification_material.timestamps ?? [];
  const bundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      certificate: { rawBytes: attestation.verification_material.certificate },
      tlogEntries: structuredClone(attestation.verification_material.transparency_entries),
      ...(timestamps.length > 0 ? { timestampVerificationData: { rfc3161Timestamps: timestamps.map((signedTimestamp) => ({ signedTimestamp })) } } : {}),
    },
    dsseEnvelope: {
      payload: attestation.envelope.statement,
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: attestation.envelope.signature, keyid: '' }],
    },
  };
  // Without timestamps the key is left out rather than set to undefined, so the bundle
  // serialises exactly as written.
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
 * (PEP 740 has room for one certificate). RFC 3161 timestamps go to
 * `verification_material.timestamps` (the open PEP 740 change, see `Pep740Attestation`).
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
  const timestampData = material.timestampVerificationData === undefined ? {} : asRecord(material.timestampVerificationData, 'verificationMaterial.timestampVerificationData');
  const rfc3161 = timestampData.rfc3161Timestamps ?? [];
  if (!Array.isArray(rfc3161)) malformed('verificationMaterial.timestampVerificationData.rfc3161Timestamps must be a list');
  const timestamps = rfc3161.map((t, i) => asRecord(t, `rfc3161Timestamps[${i}]`).signedTimestamp);
  return parseAttestation({
    version: 1,
    verification_material: { certificate, transparency_entries: tlogEntries, ...(timestamps.length > 0 ? { timestamps } : {}) },
    envelope: { statement: envelope.payload, signature },
  });
}
