import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CairnError } from '../errors.ts';

/**
 * An ed25519 TUF signing key (PEP 458 recommends Ed25519 for every role). The public half is the
 * TUF `KEY` object (`keytype`/`scheme` `ed25519`, `keyval.public` as 64 hex digits) whose key ID
 * is the SHA-256 of its canonical JSON form (TUF specification §4.2, "KEYID").
 */
export interface TufSigningKey {
  keyId: string;
  publicHex: string;
  privateKey: KeyObject;
}

/** How a key is kept on disk (`<dataDir>/tuf/keys/<name>.json`, mode 0600). */
export interface StoredTufKey {
  keytype: 'ed25519';
  scheme: 'ed25519';
  keyid: string;
  keyval: { public: string };
  /** PKCS #8, PEM. */
  private: string;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * Canonical JSON (the OLPC form TUF uses) of the public key object. Every value is a fixed ASCII
 * name or lowercase hex, so sorted keys without whitespace are the canonical bytes.
 */
function canonicalPublicKeyJson(publicHex: string): string {
  return `{"keytype":"ed25519","keyval":{"public":"${publicHex}"},"scheme":"ed25519"}`;
}

export function tufKeyIdOf(publicHex: string): string {
  return createHash('sha256').update(canonicalPublicKeyJson(publicHex)).digest('hex');
}

function rawPublicHex(publicKey: KeyObject): string {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  if (spki.length !== 44 || !spki.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) {
    throw new CairnError('config.invalid', 'a TUF key must be an Ed25519 key');
  }
  return spki.subarray(12).toString('hex');
}

function fromPrivateKey(privateKey: KeyObject): TufSigningKey {
  const publicHex = rawPublicHex(createPublicKey(privateKey));
  return { keyId: tufKeyIdOf(publicHex), publicHex, privateKey };
}

export function generateTufKey(): TufSigningKey {
  return fromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

export function storedTufKey(key: TufSigningKey): StoredTufKey {
  return {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyid: key.keyId,
    keyval: { public: key.publicHex },
    private: key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** Reads a stored key back; refuses a file whose private half does not match its declared key ID. */
export function tufKeyFromStored(stored: unknown, what: string): TufSigningKey {
  const s = stored as Partial<StoredTufKey> | null;
  if (!s || s.keytype !== 'ed25519' || typeof s.private !== 'string') {
    throw new CairnError('config.invalid', `${what} is not a stored ed25519 TUF key`);
  }
  let key: TufSigningKey;
  try {
    key = fromPrivateKey(createPrivateKey(s.private));
  } catch (error) {
    if (error instanceof CairnError) throw error;
    throw new CairnError('config.invalid', `${what}: cannot read the private key`);
  }
  if (s.keyid !== undefined && s.keyid !== key.keyId) {
    throw new CairnError('config.invalid', `${what}: the private key does not match key ID ${s.keyid}`);
  }
  return key;
}
