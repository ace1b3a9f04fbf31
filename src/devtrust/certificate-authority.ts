import { createPublicKey, verify, webcrypto, type KeyObject } from 'node:crypto';
import { x509 } from './x509.ts';
import { X509Certificate as SigstoreCertificate } from '@sigstore/core';
import { CairnError } from '../errors.ts';
import { OID_SCT_LIST, derLength, sctListExtensionValue, type DevCtLog } from './ct-log.ts';
import { randomSerialHex, toCryptoKeyPair } from './keys.ts';
import { isUrl, type DevTokenClaims } from './oidc-issuer.ts';

/** Fulcio's certificate extensions (docs/oid-info.md in sigstore/fulcio). */
export const FULCIO_OID = {
  issuerLegacy: '1.3.6.1.4.1.57264.1.1',
  issuer: '1.3.6.1.4.1.57264.1.8',
  buildSignerUri: '1.3.6.1.4.1.57264.1.9',
  buildSignerDigest: '1.3.6.1.4.1.57264.1.10',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  sourceRepositoryOwnerUri: '1.3.6.1.4.1.57264.1.16',
  buildConfigUri: '1.3.6.1.4.1.57264.1.18',
  buildConfigDigest: '1.3.6.1.4.1.57264.1.19',
  buildTrigger: '1.3.6.1.4.1.57264.1.20',
  runInvocationUri: '1.3.6.1.4.1.57264.1.21',
} as const;

export interface FulcioIdentity {
  /** The SAN URI: the workflow that ran (Build Signer URI), as Fulcio does for GitHub Actions. */
  subjectAlternativeName: string;
  extensions: { oid: string; value: string; legacy?: boolean }[];
}

const GITHUB = 'https://github.com';
const CERTIFICATE_LIFETIME_MS = 10 * 60 * 1000;

/**
 * Derives the certificate identity from a dev token the way Fulcio does for GitHub Actions
 * tokens. A repository given as a full URL is not on github.com, so the workflow URIs are then
 * rooted at the dev domain (`domainUrl`) instead of pretending to be GitHub's.
 */
export function fulcioIdentityFor(claims: DevTokenClaims, domainUrl: string): FulcioIdentity {
  const onGithub = !isUrl(claims.repository);
  const host = onGithub ? GITHUB : domainUrl.replace(/\/+$/, '');
  const rooted = (ref: string) => (isUrl(ref) ? ref : `${host}/${ref.replace(/^\/+/, '')}`);
  const sourceRepositoryUri = onGithub ? `${GITHUB}/${claims.repository}` : claims.repository;
  const buildSignerUri = rooted(claims.job_workflow_ref);
  const runInvocationUri = onGithub
    ? `${sourceRepositoryUri}/actions/runs/${claims.run_id}/attempts/${claims.run_attempt}`
    : `${host}/runs/${claims.run_id}/attempts/${claims.run_attempt}`;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const entries: [string, string | undefined][] = [
    [FULCIO_OID.issuer, claims.iss],
    [FULCIO_OID.buildSignerUri, buildSignerUri],
    [FULCIO_OID.buildSignerDigest, text(claims.job_workflow_sha) ?? claims.sha],
    [FULCIO_OID.runnerEnvironment, claims.runner_environment],
    [FULCIO_OID.sourceRepositoryUri, sourceRepositoryUri],
    [FULCIO_OID.sourceRepositoryDigest, claims.sha],
    [FULCIO_OID.sourceRepositoryRef, claims.ref],
    [FULCIO_OID.sourceRepositoryOwnerUri, onGithub ? `${GITHUB}/${claims.repository_owner}` : undefined],
    [FULCIO_OID.buildConfigUri, rooted(claims.workflow_ref)],
    [FULCIO_OID.buildConfigDigest, text(claims.workflow_sha) ?? claims.sha],
    [FULCIO_OID.buildTrigger, text(claims.event_name)],
    [FULCIO_OID.runInvocationUri, runInvocationUri],
  ];
  return {
    subjectAlternativeName: buildSignerUri,
    extensions: [
      { oid: FULCIO_OID.issuerLegacy, value: claims.iss, legacy: true },
      ...entries.filter((entry): entry is [string, string] => entry[1] !== undefined).map(([oid, value]) => ({ oid, value })),
    ],
  };
}

export interface SigningCertificateRequest {
  claims: DevTokenClaims;
  /** PEM (or base64 DER) SubjectPublicKeyInfo of the signer's ephemeral key. */
  publicKey: string;
  /** Base64 signature by that key over the token's subject (Fulcio's proof of possession). */
  proofOfPossession: string;
}

/**
 * A Fulcio-compatible CA: checks the proof of possession, issues a 10-minute leaf with Fulcio's
 * extensions and an SCT from the dev CT log embedded (RFC 6962 §3.3).
 */
export class DevCertificateAuthority {
  private caKeys?: Promise<webcrypto.CryptoKeyPair>;

  constructor(
    private readonly ca: { privateKey: KeyObject; publicKey: KeyObject; certificateDer: Buffer; subject: string },
    private readonly ctLog: DevCtLog,
    private readonly domainUrl: () => string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  get certificateDer(): Buffer {
    return this.ca.certificateDer;
  }

  get certificatePem(): string {
    return toPem(this.ca.certificateDer);
  }

  async issueSigningCertificate(request: SigningCertificateRequest): Promise<string[]> {
    const signerKey = parsePublicKey(request.publicKey);
    verifyProofOfPossession(signerKey, request.claims, request.proofOfPossession);
    const identity = fulcioIdentityFor(request.claims, this.domainUrl());
    const now = this.clock();
    const caKeys = await (this.caKeys ??= toCryptoKeyPair(this.ca.privateKey));
    const leafPublicKey = await webcrypto.subtle.importKey(
      'spki',
      signerKey.export({ format: 'der', type: 'spki' }),
      { name: 'ECDSA', namedCurve: curveOf(signerKey) },
      true,
      ['verify'],
    );
    const base = {
      serialNumber: randomSerialHex(),
      issuer: new x509.X509Certificate(this.ca.certificateDer).subject,
      notBefore: now,
      notAfter: new Date(now.getTime() + CERTIFICATE_LIFETIME_MS),
      publicKey: leafPublicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    };
    const extensions: x509.Extension[] = [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
      await x509.SubjectKeyIdentifierExtension.create(leafPublicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      // Fulcio leaves have an empty subject, so the SAN is critical (RFC 5280 §4.2.1.6).
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity.subjectAlternativeName }], true),
      ...identity.extensions.map(
        ({ oid, value, legacy }) => new x509.Extension(oid, false, legacy ? Buffer.from(value, 'utf8') : derUtf8String(value)),
      ),
    ];
    // The precertificate is the leaf without the SCT extension; the SCT signs its TBS.
    const precertificate = await x509.X509CertificateGenerator.create({ ...base, extensions });
    const tbs = SigstoreCertificate.parse(Buffer.from(precertificate.rawData)).tbsCertificate.toDER();
    const caSpki = this.ca.publicKey.export({ format: 'der', type: 'spki' });
    const sct = this.ctLog.signPrecertificate(caSpki, tbs, now.getTime());
    const leaf = await x509.X509CertificateGenerator.create({
      ...base,
      extensions: [...extensions, new x509.Extension(OID_SCT_LIST, false, sctListExtensionValue([sct]))],
    });
    return [toPem(Buffer.from(leaf.rawData)), this.certificatePem];
  }
}

function parsePublicKey(content: string): KeyObject {
  try {
    const key = content.includes('-----BEGIN')
      ? createPublicKey(content)
      : createPublicKey({ key: Buffer.from(content, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec') throw new Error(`unsupported key type ${String(key.asymmetricKeyType)}`);
    curveOf(key);
    return key;
  } catch (error) {
    throw new CairnError('request.malformed', `the public key in the certificate request is not usable: ${(error as Error).message}`);
  }
}

function curveOf(key: KeyObject): 'P-256' | 'P-384' {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1') return 'P-256';
  if (curve === 'secp384r1') return 'P-384';
  throw new Error(`unsupported curve ${String(curve)}`);
}

/**
 * Fulcio's challenge: the caller signs the token's subject (its `email` for email tokens) with
 * the key it wants certified, proving it holds the private key.
 */
function verifyProofOfPossession(key: KeyObject, claims: DevTokenClaims, proofOfPossession: string): void {
  const subject = typeof claims.email === 'string' ? claims.email : claims.sub;
  const signature = Buffer.from(proofOfPossession ?? '', 'base64');
  let ok = false;
  try {
    ok = signature.length > 0 && verify(curveOf(key) === 'P-384' ? 'sha384' : 'sha256', Buffer.from(subject, 'utf8'), key, signature);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new CairnError('oidc.proof_of_possession_invalid', 'the proof of possession is not a signature over the token subject by the key to be certified');
  }
}

function derUtf8String(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  return Buffer.concat([Buffer.from([0x0c]), derLength(bytes.length), bytes]);
}

export function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
