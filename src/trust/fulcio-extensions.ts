import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { CairnError } from '../errors.ts';

/**
 * Fulcio's certificate extensions (docs: sigstore/fulcio docs/oid-info.md). The v1 issuer
 * (.1.1) and the deprecated GitHub-specific ones (.1.2–.1.6) hold the raw string as the
 * extension value; .1.8 and later hold a DER UTF8String, which must be decoded before comparing.
 */
const FULCIO_OID = '1.3.6.1.4.1.57264.1';
const OTHERNAME_SAN_OID = `${FULCIO_OID}.7`;
const UTF8_STRING_TAG = 0x0c;

/** camelCase name → OID suffix, for the DER UTF8String extensions. */
const DER_EXTENSIONS = {
  issuerV2: 8,
  buildSignerUri: 9,
  buildSignerDigest: 10,
  runnerEnvironment: 11,
  sourceRepositoryUri: 12,
  sourceRepositoryDigest: 13,
  sourceRepositoryRef: 14,
  sourceRepositoryIdentifier: 15,
  sourceRepositoryOwnerUri: 16,
  sourceRepositoryOwnerIdentifier: 17,
  buildConfigUri: 18,
  buildConfigDigest: 19,
  buildTrigger: 20,
  runInvocationUri: 21,
  sourceRepositoryVisibilityAtSigning: 22,
} as const;

type DerExtensionName = keyof typeof DER_EXTENSIONS;

export type FulcioExtensions = { [K in Exclude<DerExtensionName, 'issuerV2'>]: string | null };

export interface FulcioCertificateFacts extends FulcioExtensions {
  /** Issuer V2 (.1.8) when present, else the deprecated V1 (.1.1). */
  issuer: string | null;
  /** Subject alternative name: URI, else e-mail, else Fulcio's otherName username. */
  identity: string | null;
  notBefore: string;
  notAfter: string;
}

// One decoder of each kind for the process: building a TextDecoder costs more than decoding.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const LENIENT_UTF8 = new TextDecoder('utf-8', { fatal: false });

function invalid(message: string): never {
  throw new CairnError('provenance.certificate_invalid', message);
}

function decodeUtf8String(oid: string, der: Buffer): string {
  let obj: ASN1Obj;
  try {
    obj = ASN1Obj.parseBuffer(der as Buffer<ArrayBuffer>);
  } catch (error) {
    return invalid(`certificate extension ${oid} is not valid DER: ${(error as Error).message}`);
  }
  if (obj.tag.number !== UTF8_STRING_TAG || obj.tag.constructed) {
    invalid(`certificate extension ${oid} must be a DER UTF8String (tag 0x0c), got tag 0x${obj.tag.toDER().toString(16)}`);
  }
  return STRICT_UTF8.decode(obj.value);
}

type ExtensionsByOid = Map<string, { value: Buffer }>;

/** The certificate's extensions by OID, read once (`cert.extension(oid)` decodes every OID per lookup). */
function extensionsByOid(cert: X509Certificate): ExtensionsByOid {
  const byOid: ExtensionsByOid = new Map();
  for (const ext of cert.extensions) {
    const oid = ext.subs[0]!.toOID();
    // Like `cert.extension(oid)`: the first one wins; its value is the last element (after an optional critical flag).
    if (!byOid.has(oid)) byOid.set(oid, { value: ext.subs[ext.subs.length - 1]!.value });
  }
  return byOid;
}

function rawExtension(extensions: ExtensionsByOid, oid: string): string | null {
  const ext = extensions.get(oid);
  return ext ? LENIENT_UTF8.decode(ext.value) : null;
}

function derExtension(extensions: ExtensionsByOid, oid: string): string | null {
  const ext = extensions.get(oid);
  return ext ? decodeUtf8String(oid, ext.value) : null;
}

function subjectIdentity(cert: X509Certificate): string | null {
  const san = cert.extSubjectAltName;
  if (!san) return null;
  return san.uri ?? san.rfc822Name ?? san.otherName(OTHERNAME_SAN_OID) ?? null;
}

/** Accepts a parsed certificate, DER bytes, base64 DER or PEM. */
export function toCertificate(input: X509Certificate | Buffer | string): X509Certificate {
  if (input instanceof X509Certificate) return input;
  try {
    if (Buffer.isBuffer(input)) return X509Certificate.parse(input as Buffer<ArrayBuffer>);
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(input);
    // PEM files often carry a human-readable dump before the block (openssl x509 -text).
    return X509Certificate.parse(pem ? pem[0] : Buffer.from(input, 'base64'));
  } catch (error) {
    return invalid(`the signing certificate cannot be parsed: ${(error as Error).message}`);
  }
}

/** Reads the signer's identity and Fulcio's extensions from a (leaf) signing certificate. */
export function readFulcioCertificate(input: X509Certificate | Buffer | string): FulcioCertificateFacts {
  const cert = toCertificate(input);
  const extensions = extensionsByOid(cert);
  const ext = {} as FulcioExtensions;
  for (const [name, suffix] of Object.entries(DER_EXTENSIONS) as [DerExtensionName, number][]) {
    if (name === 'issuerV2') continue;
    ext[name] = derExtension(extensions, `${FULCIO_OID}.${suffix}`);
  }
  return {
    issuer: derExtension(extensions, `${FULCIO_OID}.${DER_EXTENSIONS.issuerV2}`) ?? rawExtension(extensions, `${FULCIO_OID}.1`),
    identity: subjectIdentity(cert),
    ...ext,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
}
