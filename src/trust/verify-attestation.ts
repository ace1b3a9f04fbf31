import { createHash, createPublicKey, X509Certificate as NativeCertificate } from 'node:crypto';
import { bundleFromJSON, bundleToJSON, type Bundle, type SerializedBundle } from '@sigstore/bundle';
import { crypto as sigstoreCrypto, RFC3161Timestamp, type X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { PolicyError, VerificationError, Verifier, toSignedEntity, toTrustMaterial, type KeyFinderFunc, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import { CairnError, isCairnError, type ErrorCode } from '../errors.ts';
import { isSha256Hex } from '../formats/digests.ts';
import { parseDistributionFilename, sameDistribution, type ParsedDistributionFilename } from '../formats/dist-filename.ts';
import { attestationToBundle, bundleToAttestation, isSigstoreBundle, parseAttestation, IN_TOTO_PAYLOAD_TYPE, type Pep740Attestation } from '../formats/pep740.ts';
import type { AttestationFacts } from '../formats/provenance-object.ts';
import { IN_TOTO_STATEMENT_V1, PYPI_PUBLISH_V1, SLSA_PROVENANCE_V1, readBuildParameters } from '../formats/slsa-provenance.ts';
import { CertificateChainCache } from './certificate-chain.ts';
import { readFulcioCertificate, type FulcioCertificateFacts } from './fulcio-extensions.ts';
import { verifyEmbeddedScts } from './sct.ts';
import { fastPathStatus, verifierSteps, type FastPathStatus } from './sigstore-internals.ts';
import { mergeTrustedRoots, publicGoodTrustedRoot, type TrustedRootJson } from './trusted-roots.ts';

/**
 * Offline verification of PEP 740 attestations and Sigstore bundles. sigstore-js does the
 * cryptography and the log checks (certificate chain and SCTs at the log's integrated time, SET,
 * inclusion proof and checkpoint, DSSE signature, log body ↔ signature binding) with its default
 * thresholds; cairn then checks what the library does not: the statement names exactly this
 * distribution (parsed filename) with this sha256.
 */

/** in-toto Statement v0.1: read only by `verifyBundle` (older SLSA generators still emit it). */
export const IN_TOTO_STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';

export interface ArtifactRef {
  filename: string;
  sha256: string;
}

export interface VerifiedAttestation {
  facts: AttestationFacts;
  statement: Record<string, unknown>;
  /** The exact signed statement bytes (DSSE payload). */
  statementBytes: Buffer;
  bundle: SerializedBundle;
  attestation: Pep740Attestation;
}

/** Exact-match expectations on the signer, for callers that verify a bundle outside an index policy. */
export interface SignerPolicy {
  identity?: string;
  issuer?: string;
}

export interface VerifiedBundle {
  bundle: SerializedBundle;
  /** Null for bundles signed with a managed key (no certificate). */
  signer: FulcioCertificateFacts | null;
  /** The in-toto statement for DSSE bundles, null for message signatures. */
  statement: Record<string, unknown> | null;
  logIndex: string | null;
  integratedTime: string | null;
}

export interface AttestationVerifier {
  /** A PEP 740 attestation object or a DSSE Sigstore bundle, for one distribution file. */
  verify(input: unknown, artifact: ArtifactRef): VerifiedAttestation;
  /**
   * Any Sigstore bundle: DSSE (the artifact's sha256 must be one of the statement's subjects) or
   * a message signature (needs the artifact bytes).
   */
  verifyBundle(input: unknown, artifact: Buffer | { sha256: string }, policy?: SignerPolicy): VerifiedBundle;
  /** Whether keyless bundles take the fast path (cached CA paths) with the installed sigstore-js, and if not why. */
  readonly fastPath: FastPathStatus;
  /** Bundles checked so far, by path: `plain` counts keyless bundles that fell back to `Verifier.verify`. */
  readonly checked: { fast: number; plain: number; managedKey: number };
}

export interface VerifierOptions {
  /** Managed (non-keyless) keys by hint; cairn's index never accepts them, tests and tools may. */
  publicKeys?: KeyFinderFunc;
}

function fail(code: ErrorCode, message: string, details?: Record<string, unknown>): never {
  throw new CairnError(code, message, details);
}

function errorChain(error: unknown): string[] {
  const messages: string[] = [];
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) messages.push(e.message);
  return messages;
}

function isoSeconds(seconds: string): string | null {
  const n = Number(seconds);
  return Number.isFinite(n) && n > 0 ? new Date(n * 1000).toISOString() : null;
}

function signedTime(bundle: Bundle): string | null {
  const entry = bundle.verificationMaterial.tlogEntries[0];
  const fromLog = entry ? isoSeconds(entry.integratedTime) : null;
  if (fromLog) return fromLog;
  // Rekor v2 entries carry no integrated time; the trusted time is then the TSA's.
  const tsa = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps[0];
  return tsa ? RFC3161Timestamp.parse(tsa.signedTimestamp as Buffer<ArrayBuffer>).signingTime.toISOString() : null;
}

function loadBundle(json: unknown): Bundle {
  try {
    return bundleFromJSON(json);
  } catch (error) {
    const fields = (error as { fields?: unknown }).fields;
    const where = Array.isArray(fields) && fields.length > 0 ? ` (${fields.join(', ')})` : '';
    return fail('attestation.malformed', `not a valid Sigstore bundle: ${errorChain(error).join(': ')}${where}`);
  }
}

function certificateOf(entity: SignedEntity): X509Certificate | null {
  return entity.key.$case === 'certificate' ? entity.key.certificate : null;
}

function parseStatement(payload: Buffer, accepted: readonly string[]): Record<string, unknown> {
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch (error) {
    return fail('provenance.malformed', `the signed statement is not JSON: ${(error as Error).message}`);
  }
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) fail('provenance.malformed', 'the signed statement is not a JSON object');
  const s = statement as Record<string, unknown>;
  if (typeof s._type !== 'string' || !accepted.includes(s._type)) {
    fail('provenance.malformed', `the statement _type must be ${accepted.join(' or ')}, got ${JSON.stringify(s._type ?? null)}`);
  }
  if (!Array.isArray(s.subject)) fail('provenance.malformed', 'the statement has no subject list');
  if (typeof s.predicateType !== 'string') fail('provenance.malformed', 'the statement has no predicateType');
  return s;
}

function subjectDigest(subject: unknown, index: number): { name: unknown; sha256: string } {
  const s = typeof subject === 'object' && subject !== null ? (subject as Record<string, unknown>) : {};
  const digest = typeof s.digest === 'object' && s.digest !== null ? (s.digest as Record<string, unknown>) : {};
  const sha256 = typeof digest.sha256 === 'string' ? digest.sha256.toLowerCase() : '';
  if (!isSha256Hex(sha256)) fail('provenance.malformed', `subject[${index}] has no sha256 digest`);
  return { name: s.name, sha256 };
}

function kindOf(predicateType: string): AttestationFacts['kind'] {
  if (predicateType === SLSA_PROVENANCE_V1) return 'build';
  if (predicateType === PYPI_PUBLISH_V1) return 'publish';
  return 'other';
}

/** The established times of a bundle whose timestamps sigstore-js has verified: TSA timestamps, and log times behind a SET. */
function establishedTimes(entity: SignedEntity): { time: Date; source: string }[] {
  return entity.timestamps.flatMap((t) => {
    if (t.$case === 'timestamp-authority') return [{ time: t.timestamp.signingTime, source: 'the RFC 3161 timestamp' }];
    if (t.tlogEntry.inclusionPromise) return [{ time: new Date(Number(t.tlogEntry.integratedTime) * 1000), source: "the transparency log's integrated time" }];
    return [];
  });
}

/** A TSA timestamp whose signer (issuer and serial, RFC 5652 §5.3) is none of the trusted timestamp authorities. */
function untrustedTimestamp(entity: SignedEntity, trust: TrustMaterial): RFC3161Timestamp | null {
  for (const t of entity.timestamps) {
    if (t.$case !== 'timestamp-authority') continue;
    const known = trust.timestampAuthorities.some((ca) => {
      const signer = ca.certChain[0];
      return signer !== undefined && signer.serialNumber.equals(t.timestamp.signerSerialNumber) && signer.issuer.equals(t.timestamp.signerIssuer);
    });
    if (!known) return t.timestamp;
  }
  return null;
}

/**
 * Rekor v2 logs a DSSE envelope as `hashedrekord/0.0.2` over the digest of its PAE (DSSE §
 * "Signature definition": the signature is over PAE(type, payload)). An entry whose digest is over
 * the bare payload records something other than what was signed.
 */
function digestOverPayload(entity: SignedEntity, bundle: Bundle): boolean {
  if (bundle.content.$case !== 'dsseEnvelope') return false;
  const payloadDigest = createHash('sha256').update(bundle.content.dsseEnvelope.payload).digest();
  return entity.tlogEntries.some((entry) => {
    if (entry.kindVersion.kind !== 'hashedrekord' || entry.kindVersion.version !== '0.0.2') return false;
    try {
      const body = JSON.parse(entry.canonicalizedBody.toString('utf8')) as { spec?: { hashedRekordV002?: { data?: { digest?: string } } } };
      const digest = body.spec?.hashedRekordV002?.data?.digest;
      return typeof digest === 'string' && Buffer.from(digest, 'base64').equals(payloadDigest);
    } catch {
      return false;
    }
  });
}

/**
 * A checkpoint that does not verify under its entry's log but does under another trusted log:
 * a proof borrowed from another log (sigstore-js 4.1.3 binds the checkpoint to the entry's log ID).
 */
function checkpointFromAnotherLog(entity: SignedEntity, trust: TrustMaterial): boolean {
  return entity.tlogEntries.some((entry) => {
    const envelope = entry.inclusionProof?.checkpoint?.envelope;
    if (!envelope) return false;
    const split = envelope.indexOf('\n\n');
    if (split < 0) return false;
    const note = Buffer.from(envelope.slice(0, split + 1), 'utf8');
    for (const [, , encoded] of envelope.slice(split + 2).matchAll(/\u2014 (\S+) (\S+)\n/g)) {
      const bytes = Buffer.from(encoded!, 'base64');
      if (bytes.length < 5) continue;
      const other = trust.tlogs.find((t) => !t.logID.equals(entry.logId.keyId) && t.logID.subarray(0, 4).equals(bytes.subarray(0, 4)));
      if (other && sigstoreCrypto.verify(note, other.publicKey, bytes.subarray(4))) return true;
    }
    return false;
  });
}

/**
 * sigstore-js reports failures by check; cairn reports them by what went wrong for the uploader.
 * A few codes need a second look at the material to say which.
 */
function translate(error: unknown, entity: SignedEntity, bundle: Bundle, trust: TrustMaterial): CairnError {
  if (isCairnError(error)) return error;
  const chain = errorChain(error).join(': ');
  const logKnown = () =>
    entity.tlogEntries.every((e) => trust.tlogs.some((t) => t.logID.equals(e.logId.keyId)));
  if (error instanceof PolicyError) return new CairnError('provenance.identity_mismatch', chain);
  if (!(error instanceof VerificationError)) {
    return new CairnError('attestation.malformed', `the bundle could not be verified: ${chain || String(error)}`);
  }
  switch (error.code) {
    case 'SIGNATURE_ERROR':
      return new CairnError('provenance.signature_invalid', `the signature does not verify with the signing key: ${chain}`);
    case 'TLOG_BODY_ERROR': {
      // The log body is checked before the signature, so an altered statement or a swapped
      // certificate shows up as a body mismatch; tell those apart from a foreign log entry.
      const cert = certificateOf(entity);
      const key = cert ? createPublicKey({ key: cert.publicKey, format: 'der', type: 'spki' }) : null;
      if (key && !entity.signature.verifySignature(key)) {
        return new CairnError('provenance.signature_invalid', `the signature does not verify with the signing certificate's key (statement or signature altered, or certificate swapped); log: ${chain}`);
      }
      if (digestOverPayload(entity, bundle)) {
        return new CairnError('provenance.tlog_digest_not_pae', `the Rekor v2 entry (hashedrekord 0.0.2) records the digest of the DSSE payload, not of its PAE, which is what the envelope's signature covers: ${chain}`);
      }
      return new CairnError('provenance.tlog_invalid', `the transparency log entry does not record this signature: ${chain}`);
    }
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
      if (!logKnown()) return new CairnError('provenance.untrusted_root', `the transparency log entry comes from a log not in the trusted root: ${chain}`);
      if (checkpointFromAnotherLog(entity, trust)) {
        return new CairnError('provenance.checkpoint_mismatch', `the inclusion proof's checkpoint is signed by another log than the entry's (log ID ${entity.tlogEntries[0]?.logId.keyId.toString('base64')}): ${chain}`);
      }
      return new CairnError('provenance.tlog_invalid', `the transparency log entry does not verify: ${chain}`);
    case 'TLOG_MISSING_INCLUSION_ERROR':
    case 'TLOG_ERROR':
      return new CairnError('provenance.tlog_missing', `no verifiable transparency log inclusion: ${chain}`);
    case 'TIMESTAMP_ERROR': {
      const untrusted = untrustedTimestamp(entity, trust);
      if (untrusted) {
        return new CairnError('provenance.timestamp_untrusted', `the RFC 3161 timestamp (${untrusted.signingTime.toISOString()}) is signed by a timestamp authority that is not in the trusted root: ${chain}`);
      }
      return new CairnError('provenance.timestamp_invalid', `no trusted signing time: ${chain}`);
    }
    case 'CERTIFICATE_ERROR': {
      const cert = certificateOf(entity);
      const outside = cert ? establishedTimes(entity).find(({ time }) => time < cert.notBefore || time > cert.notAfter) : undefined;
      if (cert && outside) {
        return new CairnError(
          'provenance.timestamp_outside_validity',
          `${outside.source} (${outside.time.toISOString()}) is outside the signing certificate's validity (${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}): ${chain}`,
        );
      }
      const untrusted = /no (valid|trusted) certificate path found/.test(chain) || chain === 'Failed to verify certificate chain';
      if (untrusted) return new CairnError('provenance.untrusted_root', `the signing certificate does not chain to a trusted CA valid at signing time: ${chain}`);
      return new CairnError('provenance.certificate_invalid', `the signing certificate is not valid: ${chain}`);
    }
    case 'PUBLIC_KEY_ERROR':
      if (/key not found/.test(chain)) return new CairnError('provenance.untrusted_root', chain);
      return new CairnError('provenance.certificate_invalid', chain);
    default:
      return new CairnError('attestation.malformed', `the bundle could not be verified: ${chain}`);
  }
}

function parseFilename(name: string, what: string): ParsedDistributionFilename {
  try {
    return parseDistributionFilename(name);
  } catch (error) {
    return fail('provenance.subject_mismatch', `${what} ${JSON.stringify(name)} is not a distribution filename: ${(error as Error).message}`);
  }
}

/** The signing certificate's DER as carried in the bundle (the leaf of a v0.1/v0.2 chain). */
function leafCertificateDer(bundle: Bundle): Buffer | null {
  const content = bundle.verificationMaterial.content;
  if (content.$case === 'certificate') return content.certificate.rawBytes;
  if (content.$case === 'x509CertificateChain') return content.x509CertificateChain.certificates[0]?.rawBytes ?? null;
  return null;
}

/** The roots a cairn verifier trusts; every verifier (index, `cairn verify`, proxy) is built from one. */
export interface VerifierRoots {
  /** Trust the shipped Sigstore public-good root (default true; DESIGN §5). */
  publicGood?: boolean;
  /** Roots besides it: the operator's `--trusted-root` files, a dev trust domain's root. */
  extra?: readonly TrustedRootJson[];
}

export function trustedRootList(roots: VerifierRoots): TrustedRootJson[] {
  return [...(roots.publicGood === false ? [] : [publicGoodTrustedRoot()]), ...(roots.extra ?? [])];
}

const sharedVerifiers = new Map<string, AttestationVerifier>();
const SHARED_VERIFIERS_MAX = 8;
/** Digest of each root object a caller passed, so a caller passing the same objects pays no serialisation per call. */
const rootDigests = new WeakMap<TrustedRootJson, string>();
let publicGoodDigest: string | undefined;

function digestOf(root: TrustedRootJson): string {
  let digest = rootDigests.get(root);
  if (!digest) {
    digest = createHash('sha256').update(JSON.stringify(root)).digest('hex');
    rootDigests.set(root, digest);
  }
  return digest;
}

/**
 * The one way cairn builds a verifier from its trusted roots (public-good unless turned off, plus
 * extras). Verifiers are shared by equal roots within a process: the trust material and the
 * verified CA paths are built once, so a library caller who calls `verifyDistribution` per file
 * gets the same speed as one `cairn verify` run (a new verifier per call is ~1.7x slower on
 * public-good attestations).
 */
export function verifierFor(roots: VerifierRoots, options: VerifierOptions = {}): AttestationVerifier {
  if (options.publicKeys) return createAttestationVerifier(trustedRootList(roots), options);
  publicGoodDigest ??= createHash('sha256').update(JSON.stringify(publicGoodTrustedRoot())).digest('hex');
  const digests = [...(roots.publicGood === false ? [] : [publicGoodDigest]), ...(roots.extra ?? []).map(digestOf)];
  // Order and duplicates do not change what a merged root trusts.
  const key = [...new Set(digests)].sort().join(',');
  let verifier = sharedVerifiers.get(key);
  if (!verifier) {
    verifier = createAttestationVerifier(trustedRootList(roots), options);
    if (sharedVerifiers.size >= SHARED_VERIFIERS_MAX) sharedVerifiers.delete(sharedVerifiers.keys().next().value!);
    sharedVerifiers.set(key, verifier);
  }
  return verifier;
}

/** Builds the trust material once; `verify` is then pure CPU work per call. */
export function createAttestationVerifier(roots: TrustedRootJson[], options: VerifierOptions = {}): AttestationVerifier {
  let trust: TrustMaterial;
  try {
    trust = toTrustMaterial(TrustedRoot.fromJSON(mergeTrustedRoots(roots)), options.publicKeys);
  } catch (error) {
    if (isCairnError(error)) throw error;
    throw new CairnError('config.invalid', `the trusted roots cannot be used: ${(error as Error).message}`);
  }
  const verifier = new Verifier(trust);
  const fastPath = fastPathStatus();
  const steps = verifierSteps(verifier);
  const chains = new CertificateChainCache();
  const checked = { fast: 0, plain: 0, managedKey: 0 };

  /**
   * sigstore-js's `Verifier.verify` step by step (its own timestamp, log and signature checks,
   * default thresholds) with the signing-certificate step replaced by the cached path validation
   * of certificate-chain.ts: the same rules, without re-verifying the trusted CA chain per bundle.
   */
  function verifyEntity(entity: SignedEntity, bundle: Bundle): void {
    const leafDer = leafCertificateDer(bundle);
    if (entity.key.$case !== 'certificate' || leafDer === null) {
      checked.managedKey++;
      verifier.verify(entity);
      return;
    }
    // A sigstore-js release the fast path was not written for takes the plain (slower) path;
    // `fastPath.reason` says why, and test/unit/verify-fast-path.test.ts fails on it.
    if (!fastPath.enabled) {
      checked.plain++;
      verifier.verify(entity);
      return;
    }
    checked.fast++;
    const leaf = entity.key.certificate;
    const timestamps = steps.verifyTimestamps(entity);
    let native: NativeCertificate;
    try {
      native = new NativeCertificate(leafDer);
    } catch (error) {
      throw new VerificationError({ code: 'CERTIFICATE_ERROR', message: 'the signing certificate cannot be parsed', cause: error });
    }
    let path: ReturnType<CertificateChainCache['verify']> = [];
    for (const timestamp of timestamps) path = chains.verify(leaf, native, timestamp, trust.certificateAuthorities);
    if (path.length < 2) throw new VerificationError({ code: 'CERTIFICATE_ERROR', message: 'Failed to verify certificate chain' });
    const scts = verifyEmbeddedScts(path[0]!, leafDer, path[1]!, trust.ctlogs);
    if (new Set(scts.map((s) => s.toString('hex'))).size !== scts.length) throw new VerificationError({ code: 'CERTIFICATE_ERROR', message: 'duplicate SCT' });
    if (scts.length < 1) throw new VerificationError({ code: 'CERTIFICATE_ERROR', message: `expected 1 SCTs, got ${scts.length}` });
    steps.verifyTLogs(entity);
    steps.verifySignature(entity, { key: native.publicKey });
  }

  function checkSignatures(bundle: Bundle, artifact?: Buffer): SignedEntity {
    let entity: SignedEntity;
    try {
      entity = toSignedEntity(bundle, artifact);
    } catch (error) {
      return fail('attestation.malformed', `the bundle's verification material cannot be read: ${errorChain(error).join(': ')}`);
    }
    try {
      verifyEntity(entity, bundle);
    } catch (error) {
      throw translate(error, entity, bundle, trust);
    }
    return entity;
  }

  function signerFacts(entity: SignedEntity): FulcioCertificateFacts | null {
    const cert = certificateOf(entity);
    return cert ? readFulcioCertificate(cert) : null;
  }

  function verify(input: unknown, artifact: ArtifactRef): VerifiedAttestation {
    let json = input;
    if (typeof json === 'string') {
      try {
        json = JSON.parse(json);
      } catch (error) {
        fail('attestation.malformed', `the attestation is not JSON: ${(error as Error).message}`);
      }
    }
    const attestation = isSigstoreBundle(json) ? bundleToAttestation(json) : parseAttestation(json);
    const serialized = isSigstoreBundle(json) ? (json as SerializedBundle) : attestationToBundle(attestation);
    const bundle = loadBundle(serialized);
    if (bundle.content.$case !== 'dsseEnvelope') fail('attestation.malformed', 'attestations are DSSE envelopes');
    if (bundle.verificationMaterial.tlogEntries.length === 0) {
      fail('provenance.tlog_missing', 'the attestation has no transparency log entry');
    }
    const envelope = bundle.content.dsseEnvelope;
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) fail('provenance.malformed', `the DSSE payload type must be ${IN_TOTO_PAYLOAD_TYPE}`);

    const entity = checkSignatures(bundle);

    // PEP 740 requires in-toto Statement v1; v0.1 is not accepted at the index.
    const statement = parseStatement(envelope.payload, [IN_TOTO_STATEMENT_V1]);
    const subjects = statement.subject as unknown[];
    if (subjects.length !== 1) fail('provenance.malformed', `the statement must name exactly one subject, it names ${subjects.length}`);
    const subject = subjectDigest(subjects[0], 0);
    if (typeof subject.name !== 'string') fail('provenance.malformed', 'subject[0] has no name');
    const expected = parseDistributionFilename(artifact.filename);
    if (!sameDistribution(parseFilename(subject.name, 'the statement subject'), expected)) {
      fail('provenance.subject_mismatch', `the attestation is for ${subject.name}, not ${artifact.filename}`, { subject: subject.name, filename: artifact.filename });
    }
    if (subject.sha256 !== artifact.sha256.toLowerCase()) {
      fail('provenance.digest_mismatch', `the attestation's subject digest sha256:${subject.sha256} differs from the file's sha256:${artifact.sha256}`);
    }

    const signer = signerFacts(entity);
    if (!signer) return fail('provenance.certificate_invalid', 'attestations must be signed with a certificate');
    if (!signer.issuer) fail('provenance.certificate_invalid', 'the signing certificate has no Fulcio issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)');
    if (!signer.identity) fail('provenance.certificate_invalid', 'the signing certificate has no subject alternative name');
    const predicateType = statement.predicateType as string;
    const kind = kindOf(predicateType);
    const build = kind === 'build' ? readBuildParameters(statement.predicate) : null;
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    const facts: AttestationFacts = {
      kind,
      predicateType,
      issuer: signer.issuer,
      identity: signer.identity,
      buildSignerUri: signer.buildSignerUri,
      buildSignerDigest: signer.buildSignerDigest,
      sourceRepositoryUri: signer.sourceRepositoryUri,
      sourceRepositoryDigest: signer.sourceRepositoryDigest,
      sourceRepositoryRef: signer.sourceRepositoryRef,
      buildConfigUri: signer.buildConfigUri,
      runInvocationUri: signer.runInvocationUri,
      runnerEnvironment: signer.runnerEnvironment,
      certificateNotBefore: signer.notBefore,
      certificateNotAfter: signer.notAfter,
      logIndex: entry.logIndex,
      integratedTime: signedTime(bundle) ?? '',
      buildType: build?.buildType ?? null,
      builderId: build?.builderId ?? null,
      statementRepository: build?.repository ?? null,
      statementCommit: build?.commit ?? null,
      invocationId: build?.invocationId ?? null,
    };
    return { facts, statement, statementBytes: Buffer.from(envelope.payload), bundle: serialized, attestation };
  }

  function verifyBundle(input: unknown, artifact: Buffer | { sha256: string }, policy: SignerPolicy = {}): VerifiedBundle {
    const bundle = loadBundle(input);
    const bytes = Buffer.isBuffer(artifact) ? artifact : undefined;
    const sha256 = bytes ? createHash('sha256').update(bytes).digest('hex') : (artifact as { sha256: string }).sha256.toLowerCase();
    if (bundle.content.$case === 'messageSignature' && !bytes) {
      fail('usage.invalid_argument', 'a message-signature bundle is verified against the artifact bytes, not a digest');
    }
    const entity = checkSignatures(bundle, bundle.content.$case === 'messageSignature' ? bytes : undefined);
    let statement: Record<string, unknown> | null = null;
    if (bundle.content.$case === 'dsseEnvelope') {
      statement = parseStatement(bundle.content.dsseEnvelope.payload, [IN_TOTO_STATEMENT_V1, IN_TOTO_STATEMENT_V01]);
      const digests = (statement.subject as unknown[]).map((s, i) => subjectDigest(s, i).sha256);
      if (!digests.includes(sha256)) fail('provenance.digest_mismatch', `no subject of the statement has the artifact's sha256 ${sha256}`);
    }
    const signer = signerFacts(entity);
    if (policy.identity !== undefined && signer?.identity !== policy.identity) {
      fail('provenance.identity_mismatch', `expected signer ${policy.identity}, got ${signer?.identity ?? 'a managed key'}`);
    }
    if (policy.issuer !== undefined && signer?.issuer !== policy.issuer) {
      fail('provenance.identity_mismatch', `expected issuer ${policy.issuer}, got ${signer?.issuer ?? 'none'}`);
    }
    const entry = bundle.verificationMaterial.tlogEntries[0];
    return { bundle: bundleToJSON(bundle), signer, statement, logIndex: entry?.logIndex ?? null, integratedTime: signedTime(bundle) };
  }

  return { verify, verifyBundle, fastPath, checked };
}
