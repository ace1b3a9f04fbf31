import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { Attribute, CertificateChoices, CertificateSet, ContentInfo, EncapsulatedContent, EncapsulatedContentInfo, IssuerAndSerialNumber, SignedData, SignerIdentifier, SignerInfo, SignerInfos, id_signedData } from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { MessageImprint, PKIStatus, PKIStatusInfo, TimeStampResp, TSTInfo, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import { CairnError } from '../errors.ts';

/** RFC 5652 §11.1 content-type and §11.2 message-digest attributes; RFC 5035 signing-certificate-v2. */
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
/** The TSA policy this authority issues under: a UUID OID (X.667, 2.25), no registration needed. */
export const DEV_TSA_POLICY = '2.25.232329915335290427014262232233290412041';

export interface TimestampRequest {
  /** base64 of the digest of what is timestamped (sigstore-js sends the digest of the signature). */
  artifactHash: string;
  hashAlgorithm: string;
  /** Optional nonce (decimal or base64 integer bytes), echoed in the TSTInfo (RFC 3161 §2.4.2). */
  nonce?: string;
}

/**
 * An RFC 3161 timestamp authority in the shape of Sigstore's (`POST /api/v1/timestamp` with
 * `{artifactHash, hashAlgorithm}`, answered with a DER TimeStampResp): a TSTInfo over the
 * requested digest and the authority's clock, in a CMS SignedData signed by its leaf certificate,
 * with the content-type, message-digest and signing-certificate-v2 attributes (RFC 3161 §2.4.1,
 * RFC 5816). The ASN.1 comes from @peculiar's asn1-tsp and asn1-cms schemas.
 */
export class DevTimestampAuthority {
  private readonly certificate: Certificate;

  constructor(
    private readonly key: { privateKey: KeyObject; certificateDer: Buffer },
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.certificate = AsnConvert.parse(key.certificateDer, Certificate);
  }

  /** The DER TimeStampResp for a request; throws `request.malformed` for what it cannot timestamp. */
  timestamp(request: TimestampRequest): Buffer {
    if (request.hashAlgorithm !== 'sha256') throw new CairnError('request.malformed', `hashAlgorithm must be sha256, got ${JSON.stringify(request.hashAlgorithm)}`);
    const digest = Buffer.from(request.artifactHash, 'base64');
    if (digest.length !== 32 || digest.toString('base64') !== request.artifactHash) throw new CairnError('request.malformed', 'artifactHash must be the base64 of a 32-byte SHA-256 digest');
    return this.timestampDigest(digest, request.nonce === undefined ? undefined : Buffer.from(request.nonce, 'base64'));
  }

  /** A timestamp over a SHA-256 digest at this authority's clock. */
  timestampDigest(digest: Buffer, nonce?: Buffer): Buffer {
    const sha256 = new AlgorithmIdentifier({ algorithm: OID_SHA256 });
    const tstInfo = new TSTInfo({
      version: 1,
      policy: DEV_TSA_POLICY,
      messageImprint: new MessageImprint({ hashAlgorithm: sha256, hashedMessage: new OctetString(digest) }),
      serialNumber: positiveInteger(randomBytes(16)),
      // Whole seconds: GeneralizedTime without fractions, as most TSAs and their verifiers expect.
      genTime: new Date(Math.floor(this.clock().getTime() / 1000) * 1000),
      ...(nonce ? { nonce: positiveInteger(nonce) } : {}),
    });
    const tstInfoDer = Buffer.from(AsnConvert.serialize(tstInfo));
    const certificateHash = createHash('sha256').update(this.key.certificateDer).digest();
    const attributes = [
      new Attribute({ attrType: OID_CONTENT_TYPE, attrValues: [arrayBuffer(derObjectIdentifier(id_ct_tstInfo))] }),
      new Attribute({ attrType: OID_MESSAGE_DIGEST, attrValues: [AsnConvert.serialize(new OctetString(createHash('sha256').update(tstInfoDer).digest()))] }),
      // SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }; ESSCertIDv2 with the
      // default hash algorithm (SHA-256) is SEQUENCE { certHash OCTET STRING }.
      new Attribute({ attrType: OID_SIGNING_CERTIFICATE_V2, attrValues: [arrayBuffer(derSequence(derSequence(derSequence(derOctetString(certificateHash)))))] }),
    ].map((attribute) => ({ attribute, der: Buffer.from(AsnConvert.serialize(attribute)) }));
    // DER orders a SET OF by the elements' encodings (X.690 §11.6); the signature covers the DER of
    // the attributes as a SET (RFC 5652 §5.4), and the SignerInfo carries the same elements in the
    // same order under its [0] tag.
    attributes.sort((a, b) => Buffer.compare(a.der, b.der));
    const content = Buffer.concat(attributes.map((a) => a.der));
    const signedAttrsDer = Buffer.concat([Buffer.from([0x31]), derLength(content.length), content]);
    const signedAttrs = attributes.map((a) => a.attribute);
    const signature = sign('sha256', signedAttrsDer, this.key.privateKey);
    const signerInfo = new SignerInfo({
      version: 1,
      sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: this.certificate.tbsCertificate.issuer, serialNumber: this.certificate.tbsCertificate.serialNumber }) }),
      digestAlgorithm: sha256,
      signedAttrs,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 }),
      signature: new OctetString(signature),
    });
    const signedData = new SignedData({
      version: 3,
      encapContentInfo: new EncapsulatedContentInfo({ eContentType: id_ct_tstInfo, eContent: new EncapsulatedContent({ single: new OctetString(tstInfoDer) }) }),
      certificates: new CertificateSet([new CertificateChoices({ certificate: this.certificate })]),
      signerInfos: new SignerInfos([signerInfo]),
    });
    signedData.digestAlgorithms.push(sha256);
    const token = new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) });
    const response = new TimeStampResp({ status: new PKIStatusInfo({ status: PKIStatus.granted }), timeStampToken: token });
    return Buffer.from(AsnConvert.serialize(response));
  }
}

function arrayBuffer(bytes: Buffer): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

/** X.690 §8.19: the first two arcs in one subidentifier, each subidentifier base 128. */
function derObjectIdentifier(oid: string): Buffer {
  const arcs = oid.split('.').map(Number);
  const subidentifiers = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  const content = subidentifiers.flatMap((value) => {
    const bytes = [value & 0x7f];
    for (let n = Math.floor(value / 128); n > 0; n = Math.floor(n / 128)) bytes.unshift((n & 0x7f) | 0x80);
    return bytes;
  });
  return Buffer.concat([Buffer.from([0x06]), derLength(content.length), Buffer.from(content)]);
}

/** An INTEGER's content octets for a non-negative number: no leading 1 bit. */
function positiveInteger(bytes: Buffer): ArrayBuffer {
  const value = bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  return new Uint8Array(value).buffer;
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derSequence(content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x30]), derLength(content.length), content]);
}

function derOctetString(content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x04]), derLength(content.length), content]);
}
