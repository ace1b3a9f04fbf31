import { X509Certificate as NodeCertificate, createPublicKey, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { crypto as sigstoreCrypto, dsse, json } from '@sigstore/core';
import { HashAlgorithm, PublicKeyDetails } from '@sigstore/protobuf-specs';
import { CreateEntryRequest, Entry, type Verifier as V2Verifier } from '@sigstore/protobuf-specs/rekor/v2';
import { CairnError } from '../errors.ts';

/** A proposed entry reduced to what the log stores: Rekor's canonical body for it. */
export interface CanonicalEntry {
  kind: string;
  apiVersion: string;
  body: Buffer;
}

/**
 * Checks a proposed Rekor entry and returns its canonical body, as Rekor v1 does: the signature
 * must verify against the supplied key or certificate (Rekor does not check certificate chains),
 * and the stored body is the canonical JSON (RFC 8785) of the kind's canonical form — the bytes
 * whose leaf hash goes into the tree and that verifiers compare with the bundle (TLOG_BODY).
 */
export function canonicalizeProposedEntry(proposed: unknown): CanonicalEntry {
  const entry = object(proposed, 'entry');
  const kind = entry.kind;
  const apiVersion = entry.apiVersion;
  if (kind === 'dsse' && apiVersion === '0.0.1') return canonicalDsse(object(entry.spec, 'spec'));
  if (kind === 'intoto' && apiVersion === '0.0.2') return canonicalIntoto(object(entry.spec, 'spec'));
  throw new CairnError(
    'request.malformed',
    `unsupported entry kind ${JSON.stringify(kind)} version ${JSON.stringify(apiVersion)}: this log accepts dsse 0.0.1 and intoto 0.0.2`,
  );
}

interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid?: string; sig: string }[];
}

/** Rekor `dsse` v0.0.1: envelope + verifiers in, {envelopeHash, payloadHash, signatures[]} stored. */
function canonicalDsse(spec: Record<string, unknown>): CanonicalEntry {
  const proposed = object(spec.proposedContent, 'spec.proposedContent');
  const envelopeText = string(proposed.envelope, 'spec.proposedContent.envelope');
  const envelope = parseEnvelope(envelopeText);
  const verifiers = array(proposed.verifiers, 'spec.proposedContent.verifiers').map((v, i) => string(v, `verifiers[${i}]`));
  if (verifiers.length === 0) throw new CairnError('request.malformed', 'the dsse entry names no verifier');
  const payload = Buffer.from(envelope.payload, 'base64');
  const pae = dsse.preAuthEncoding(envelope.payloadType, payload);
  const signatures = envelope.signatures.map((signature, i) => {
    const verifier = verifiers.find((candidate) => verifies(pae, keyFromVerifier(candidate), Buffer.from(signature.sig, 'base64')));
    if (!verifier) throw new CairnError('provenance.signature_invalid', `DSSE signature ${i} does not verify with any of the supplied verifiers`);
    return { signature: signature.sig, verifier: normalizeBase64(verifier) };
  });
  const body = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256Hex(Buffer.from(envelopeText, 'utf8')) },
      payloadHash: { algorithm: 'sha256', value: sha256Hex(payload) },
      signatures,
    },
  };
  return { kind: 'dsse', apiVersion: '0.0.1', body: Buffer.from(json.canonicalize(body), 'utf8') };
}

/**
 * Rekor `intoto` v0.0.2: payload and signatures arrive base64-encoded twice; the canonical body
 * drops the payload and keeps its hash.
 */
function canonicalIntoto(spec: Record<string, unknown>): CanonicalEntry {
  const content = object(spec.content, 'spec.content');
  const envelope = object(content.envelope, 'spec.content.envelope');
  const payloadType = string(envelope.payloadType, 'envelope.payloadType');
  const payloadB64 = Buffer.from(string(envelope.payload, 'envelope.payload'), 'base64').toString('utf8');
  const payload = Buffer.from(payloadB64, 'base64');
  const pae = dsse.preAuthEncoding(payloadType, payload);
  const signatures = array(envelope.signatures, 'envelope.signatures').map((raw, i) => {
    const signature = object(raw, `signatures[${i}]`);
    const publicKey = string(signature.publicKey, `signatures[${i}].publicKey`);
    const sigB64 = Buffer.from(string(signature.sig, `signatures[${i}].sig`), 'base64').toString('utf8');
    if (!verifies(pae, keyFromVerifier(publicKey), Buffer.from(sigB64, 'base64'))) {
      throw new CairnError('provenance.signature_invalid', `in-toto envelope signature ${i} does not verify with its public key`);
    }
    const keyid = typeof signature.keyid === 'string' && signature.keyid.length > 0 ? signature.keyid : undefined;
    return { keyid, publicKey: normalizeBase64(publicKey), sig: normalizeBase64(string(signature.sig, 'sig')), sigB64 };
  });
  const first = signatures[0];
  if (!first) throw new CairnError('request.malformed', 'the intoto entry has no signature');
  // The envelope hash as sigstore-js computes it (the signer's PEM key in place of the base64 one).
  const hashInput = {
    payloadType,
    payload: payloadB64,
    signatures: signatures.map((s) => ({ sig: s.sigB64, publicKey: Buffer.from(s.publicKey, 'base64').toString('utf8'), ...(s.keyid ? { keyid: s.keyid } : {}) })),
  };
  const envelopeHash = sha256Hex(Buffer.from(json.canonicalize(hashInput), 'utf8'));
  const body = {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: {
          payloadType,
          signatures: signatures.map((s) => ({ ...(s.keyid ? { keyid: s.keyid } : {}), publicKey: s.publicKey, sig: s.sig })),
        },
        hash: { algorithm: 'sha256', value: envelopeHash },
        payloadHash: { algorithm: 'sha256', value: sha256Hex(payload) },
      },
    },
  };
  return { kind: 'intoto', apiVersion: '0.0.2', body: Buffer.from(json.canonicalize(body), 'utf8') };
}

function parseEnvelope(text: string): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CairnError('request.malformed', 'the DSSE envelope is not JSON');
  }
  const envelope = object(parsed, 'envelope');
  const signatures = array(envelope.signatures, 'envelope.signatures').map((raw, i) => {
    const signature = object(raw, `envelope.signatures[${i}]`);
    return { sig: string(signature.sig, `envelope.signatures[${i}].sig`), keyid: typeof signature.keyid === 'string' ? signature.keyid : undefined };
  });
  if (signatures.length === 0) throw new CairnError('request.malformed', 'the DSSE envelope has no signature');
  return { payloadType: string(envelope.payloadType, 'envelope.payloadType'), payload: string(envelope.payload, 'envelope.payload'), signatures };
}

/** A verifier is base64 of a PEM certificate or public key (what sigstore-js sends). */
function keyFromVerifier(encoded: string): KeyObject | undefined {
  const pem = Buffer.from(encoded, 'base64').toString('utf8');
  try {
    if (pem.includes('BEGIN CERTIFICATE')) return new NodeCertificate(pem).publicKey;
    if (pem.includes('BEGIN PUBLIC KEY')) return createPublicKey(pem);
  } catch {
    return undefined;
  }
  return undefined;
}

function verifies(data: Buffer, key: KeyObject | undefined, signature: Buffer): boolean {
  if (!key || signature.length === 0) return false;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const algorithm = key.asymmetricKeyType === 'ed25519' ? undefined : curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
  try {
    return sigstoreCrypto.verify(data, key, signature, algorithm);
  } catch {
    return false;
  }
}

function sha256Hex(data: Buffer): string {
  return sigstoreCrypto.digest('sha256', data).toString('hex');
}

function normalizeBase64(value: string): string {
  return Buffer.from(value, 'base64').toString('base64');
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CairnError('request.malformed', `${what} must be an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new CairnError('request.malformed', `${what} must be an array`);
  return value;
}

function string(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new CairnError('request.malformed', `${what} must be a non-empty string`);
  return value;
}

/**
 * Checks a Rekor v2 CreateEntryRequest (rekor-tiles `POST /api/v2/log/entries`) and returns the
 * entry it logs. Only `hashedRekordRequestV002` is taken: since rekor-tiles PR #744 (2026-06-09)
 * Rekor v2 no longer logs DSSE entries, and a DSSE envelope is logged as a hashedrekord over the
 * SHA-256 of its PAE, which is what the envelope's signature covers. The signature is checked
 * against the digest as given (ECDSA over a prehashed message, which node:crypto cannot do;
 * @noble/curves can), with the certificate's or key's P-256 public key.
 */
export function canonicalizeV2Request(proposed: unknown): CanonicalEntry {
  const request = object(proposed, 'entry request');
  if (request.dsseRequestV002 !== undefined) {
    throw new CairnError('request.malformed', 'this Rekor v2 log takes no DSSE entries (rekor-tiles #744): log the envelope as hashedRekordRequestV002 over the SHA-256 of its PAE');
  }
  if (request.hashedRekordRequestV002 === undefined) throw new CairnError('request.malformed', 'the request must be a hashedRekordRequestV002');
  let parsed: ReturnType<typeof CreateEntryRequest.fromJSON>;
  try {
    parsed = CreateEntryRequest.fromJSON(request);
  } catch (error) {
    throw new CairnError('request.malformed', `not a Rekor v2 CreateEntryRequest: ${(error as Error).message}`);
  }
  if (parsed.spec?.$case !== 'hashedRekordRequestV002') throw new CairnError('request.malformed', 'the request must be a hashedRekordRequestV002');
  const { digest, signature } = parsed.spec.hashedRekordRequestV002;
  if (digest.length !== 32) throw new CairnError('request.malformed', 'digest must be a 32-byte SHA-256 digest');
  const verifier = signature?.verifier;
  if (!signature || signature.content.length === 0 || !verifier?.verifier) throw new CairnError('request.malformed', 'signature.content and signature.verifier are required');
  if (verifier.keyDetails !== PublicKeyDetails.PKIX_ECDSA_P256_SHA_256) throw new CairnError('request.malformed', 'this log takes ECDSA P-256 (PKIX_ECDSA_P256_SHA_256) verifiers only');
  const key = verifier.verifier.$case === 'x509Certificate' ? keyFromDer(verifier.verifier.x509Certificate.rawBytes, 'certificate') : keyFromDer(verifier.verifier.publicKey.rawBytes, 'spki');
  if (!key || !verifiesPrehashed(digest, key, signature.content)) {
    throw new CairnError('provenance.signature_invalid', 'the signature does not verify over the given digest with the given verifier');
  }
  return hashedRekordV2Entry(digest, signature.content, verifier);
}

/** The `hashedrekord` 0.0.2 entry a Rekor v2 log stores for a digest and a signature (no checks: see canonicalizeV2Request). */
export function hashedRekordV2Entry(digest: Buffer, signature: Buffer, verifier: V2Verifier | undefined): CanonicalEntry {
  const entry = Entry.toJSON({
    kind: 'hashedrekord',
    apiVersion: '0.0.2',
    spec: { spec: { $case: 'hashedRekordV002', hashedRekordV002: { data: { algorithm: HashAlgorithm.SHA2_256, digest }, signature: { content: signature, verifier } } } },
  });
  return { kind: 'hashedrekord', apiVersion: '0.0.2', body: Buffer.from(json.canonicalize(entry), 'utf8') };
}

function keyFromDer(der: Buffer, type: 'certificate' | 'spki'): KeyObject | undefined {
  try {
    return type === 'certificate' ? new NodeCertificate(der).publicKey : createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

function verifiesPrehashed(digest: Buffer, key: KeyObject, signature: Buffer): boolean {
  if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return false;
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  try {
    return p256.verify(signature, digest, point, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}
