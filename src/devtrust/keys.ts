import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomInt, webcrypto, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { x509 } from './x509.ts';
import { CairnError } from '../errors.ts';

/**
 * The dev trust domain's long-lived key material. It is created once per state directory and
 * never rotated: bundles signed yesterday must verify after a restart (DESIGN §5), so the CA
 * certificate, the log keys and the log's tree id are part of the persisted state.
 */
export interface DevTrustKeys {
  createdAt: Date;
  /** Start of every validity window in the trusted root (a little before creation, for clock skew). */
  validFrom: Date;
  oidc: { privateKey: KeyObject; publicKey: KeyObject; kid: string };
  ca: { privateKey: KeyObject; publicKey: KeyObject; certificateDer: Buffer; subject: string };
  ctLog: LogKey;
  rekor: LogKey & { treeId: number };
  /** The Rekor v2-style log (hashedrekord 0.0.2 entries, no SETs); its own validity start (keys-v2.json may be younger). */
  rekorV2: LogKey & { treeId: number; validFrom: Date };
  /** The RFC 3161 timestamp authority: signing key, its certificate and the root that issued it. */
  tsa: { privateKey: KeyObject; certificateDer: Buffer; rootCertificateDer: Buffer; validFrom: Date };
}

export interface LogKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  publicKeyDer: Buffer;
  /** RFC 6962 §3.2 / Rekor: the log ID is SHA-256 of the DER public key. */
  logId: Buffer;
}

interface KeysFile {
  version: 1;
  createdAt: string;
  validFrom: string;
  oidc: { privateKeyPem: string; kid: string };
  ca: { privateKeyPem: string; certificatePem: string; subject: string };
  ctLog: { privateKeyPem: string };
  rekor: { privateKeyPem: string; treeId: number };
}

const KEYS_FILE = 'keys.json';
const CA_SUBJECT = 'CN=cairn dev trust CA, O=cairn dev trust';
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const CA_LIFETIME_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** Writes JSON so a reader never sees a half-written file: temp file, fsync, rename. */
export function writeJsonAtomic(path: string, value: unknown, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${randomInt(1e9)}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  const fd = openSync(temp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export function readJsonFile<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new CairnError('config.invalid', `cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * Reads the JSON file at `path`, or creates it from `make()`. Create-if-absent: two openers
 * racing (the index and the domain, or two processes) must end up with the same keys, so the
 * loser of the link() reads the winner's file.
 */
async function readOrCreateOnce<T>(path: string, make: () => Promise<T>): Promise<T> {
  if (existsSync(path)) return readJsonFile<T>(path);
  const file = await make();
  const temp = `${path}.${process.pid}.${randomInt(1e9)}.new`;
  writeJsonAtomic(temp, file, 0o600);
  try {
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readJsonFile<T>(path);
  } finally {
    rmSync(temp, { force: true });
  }
  return file;
}

/** Loads the domain's keys from `stateDir`, creating (and persisting) them on first use. */
export async function loadOrCreateDevTrustKeys(stateDir: string, now: Date = new Date()): Promise<DevTrustKeys> {
  const keys = fromFile(await readOrCreateOnce(join(stateDir, KEYS_FILE), () => createKeysFile(now)));
  // Kept apart from keys.json so a state directory made before them gains them without a rewrite.
  const v2 = await readOrCreateOnce(join(stateDir, V2_KEYS_FILE), () => createV2KeysFile(now));
  return { ...keys, ...fromV2File(v2) };
}

/**
 * The Rekor v2-style half of the domain: its own log (a second tree and key, as the public-good
 * instance runs its v2 logs apart from rekor.sigstore.dev) and an RFC 3161 timestamp authority
 * (a root and a leaf with the timeStamping key purpose, RFC 3161 §2.3), whose timestamps give
 * bundles the trusted time a Rekor v2 entry does not carry.
 */
interface V2KeysFile {
  version: 1;
  validFrom: string;
  rekorV2: { privateKeyPem: string; treeId: number };
  tsa: { privateKeyPem: string; certificatePem: string; rootCertificatePem: string };
}

const V2_KEYS_FILE = 'keys-v2.json';
const TSA_ROOT_SUBJECT = 'CN=cairn dev trust TSA root, O=cairn dev trust';
const TSA_SUBJECT = 'CN=cairn dev trust TSA, O=cairn dev trust';

async function createV2KeysFile(now: Date): Promise<V2KeysFile> {
  const validFrom = new Date(now.getTime() - CLOCK_SKEW_MS);
  const pem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
  const newEcKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const rootKey = newEcKey();
  const tsaKey = newEcKey();
  const rootKeys = await toCryptoKeyPair(rootKey);
  const tsaKeys = await toCryptoKeyPair(tsaKey);
  const notAfter = new Date(validFrom.getTime() + CA_LIFETIME_MS);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: TSA_ROOT_SUBJECT,
    notBefore: validFrom,
    notAfter,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys: rootKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: TSA_SUBJECT,
    issuer: root.subject,
    notBefore: validFrom,
    notAfter,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: tsaKeys.publicKey,
    signingKey: rootKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.timeStamping], true),
      await x509.SubjectKeyIdentifierExtension.create(tsaKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  return {
    version: 1,
    validFrom: validFrom.toISOString(),
    rekorV2: { privateKeyPem: pem(newEcKey()), treeId: randomInt(1, 2 ** 47) },
    tsa: { privateKeyPem: pem(tsaKey), certificatePem: leaf.toString('pem'), rootCertificatePem: root.toString('pem') },
  };
}

function fromV2File(file: V2KeysFile): Pick<DevTrustKeys, 'rekorV2' | 'tsa'> {
  if (file.version !== 1) throw new CairnError('config.invalid', `unsupported dev trust v2 key file version ${String(file.version)}`);
  const tsaPrivate = createPrivateKey(file.tsa.privateKeyPem);
  return {
    rekorV2: { ...logKey(file.rekorV2.privateKeyPem), treeId: file.rekorV2.treeId, validFrom: new Date(file.validFrom) },
    tsa: {
      privateKey: tsaPrivate,
      certificateDer: Buffer.from(new x509.X509Certificate(file.tsa.certificatePem).rawData),
      rootCertificateDer: Buffer.from(new x509.X509Certificate(file.tsa.rootCertificatePem).rawData),
      validFrom: new Date(file.validFrom),
    },
  };
}

async function createKeysFile(now: Date): Promise<KeysFile> {
  const validFrom = new Date(now.getTime() - CLOCK_SKEW_MS);
  const pem = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
  const newEcKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const oidcKey = newEcKey();
  const caKey = newEcKey();
  const certificate = await createCaCertificate(caKey, validFrom);
  return {
    version: 1,
    createdAt: now.toISOString(),
    validFrom: validFrom.toISOString(),
    oidc: { privateKeyPem: pem(oidcKey), kid: jwkThumbprintKid(createPublicKey(oidcKey)) },
    ca: { privateKeyPem: pem(caKey), certificatePem: certificate.toString('pem'), subject: CA_SUBJECT },
    ctLog: { privateKeyPem: pem(newEcKey()) },
    // Rekor names its tree in the checkpoint origin ("<host> - <tree id>").
    rekor: { privateKeyPem: pem(newEcKey()), treeId: randomInt(1, 2 ** 47) },
  };
}

async function createCaCertificate(privateKey: KeyObject, validFrom: Date): Promise<x509.X509Certificate> {
  const keys = await toCryptoKeyPair(privateKey);
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: CA_SUBJECT,
    notBefore: validFrom,
    notAfter: new Date(validFrom.getTime() + CA_LIFETIME_MS),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

/** A positive 20-byte serial (RFC 5280 §4.1.2.2), hex as @peculiar/x509 wants it. */
export function randomSerialHex(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(20));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

export async function toCryptoKeyPair(privateKey: KeyObject): Promise<webcrypto.CryptoKeyPair> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const jwk = privateKey.export({ format: 'jwk' });
  const { d: _d, ...publicJwk } = jwk;
  return {
    privateKey: await webcrypto.subtle.importKey('jwk', jwk, algorithm, true, ['sign']),
    publicKey: await webcrypto.subtle.importKey('jwk', publicJwk, algorithm, true, ['verify']),
  };
}

function jwkThumbprintKid(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function logKey(privateKeyPem: string): LogKey {
  const privateKey = createPrivateKey(privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const publicKeyDer = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, publicKey, publicKeyDer, logId: createHash('sha256').update(publicKeyDer).digest() };
}

function fromFile(file: KeysFile): Omit<DevTrustKeys, 'rekorV2' | 'tsa'> {
  if (file.version !== 1) throw new CairnError('config.invalid', `unsupported dev trust key file version ${String(file.version)}`);
  const oidcPrivate = createPrivateKey(file.oidc.privateKeyPem);
  const caPrivate = createPrivateKey(file.ca.privateKeyPem);
  const certificate = new x509.X509Certificate(file.ca.certificatePem);
  return {
    createdAt: new Date(file.createdAt),
    validFrom: new Date(file.validFrom),
    oidc: { privateKey: oidcPrivate, publicKey: createPublicKey(oidcPrivate), kid: file.oidc.kid },
    ca: { privateKey: caPrivate, publicKey: createPublicKey(caPrivate), certificateDer: Buffer.from(certificate.rawData), subject: file.ca.subject },
    ctLog: logKey(file.ctLog.privateKeyPem),
    rekor: { ...logKey(file.rekor.privateKeyPem), treeId: file.rekor.treeId },
  };
}
