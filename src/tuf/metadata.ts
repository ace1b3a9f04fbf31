import { createHash, sign } from 'node:crypto';
import { Metadata, MetadataKind, type Root, type Snapshot, type Targets, type Timestamp } from '@tufjs/models';
import { canonicalJson } from './canonical-json.ts';
import { BIN_NAME_PREFIX } from './hashed-bins.ts';
import type { TufSigningKey } from './keys.ts';

/** The TUF specification version cairn's metadata declares (what tuf-js and python-tuf implement). */
export const TUF_SPEC_VERSION = '1.0.31';

/** PEP 458's role layout: targets → bins → bin-n (hashed bins), timestamp and snapshot on top. */
export const BINS_ROLE = 'bins';

/**
 * What top-level targets delegates to `bins`: distributions and their PEP 658 metadata at their
 * download paths (`files/<sha256>/<filename>[.metadata]`), and the simple pages
 * (`simple/<project>/index.html`, `index.json`, PEP 458 "Simple index pages are targets").
 */
export const DELEGATED_TARGET_PATTERNS = ['files/*/*', 'simple/*/*'];

export type PublicTufKey = Pick<TufSigningKey, 'keyId' | 'publicHex'>;

/** One target as bin metadata lists it (TUF §4.5 `TARGETS`). */
export interface TargetEntry {
  path: string;
  length: number;
  sha256: string;
  /** Passed through to clients unverified (`custom`). */
  custom?: Record<string, unknown> | null;
}

export interface DistributionFileFacts {
  filename: string;
  sha256: string;
  size: number;
  blake2b256: string;
}

/**
 * The TUF target path of a distribution file: its URL path below the index root
 * (`/files/<sha256>/<filename>`), so a client joins it to the index URL to download it and the
 * simple API's links map to target paths without a lookup.
 */
export function distributionTargetPath(sha256: string, filename: string): string {
  return `files/${sha256}/${filename}`;
}

/**
 * One distribution as a TUF target. `hashes` holds only sha256: TUF allows any algorithm name,
 * but clients (tuf-js, for one) refuse a target whose hash algorithm they cannot compute, and
 * BLAKE2b-256 is not one Node's or Python's stdlib name for. The BLAKE2b-256 digest PyPI also
 * publishes rides in `custom`, which clients pass through unverified.
 */
export function distributionTarget(file: DistributionFileFacts): TargetEntry {
  return { path: distributionTargetPath(file.sha256, file.filename), length: file.size, sha256: file.sha256, custom: { blake2b_256: file.blake2b256 } };
}

/**
 * The PEP 658 core metadata of a distribution (`<file URL>.metadata`) as a TUF target: pip reads
 * it before it downloads the file, so a mirror must not be able to alter it either.
 */
export function coreMetadataTarget(file: { filename: string; sha256: string; metadataSha256: string; metadataLength: number }): TargetEntry {
  return { path: `${distributionTargetPath(file.sha256, file.filename)}.metadata`, length: file.metadataLength, sha256: file.metadataSha256 };
}

export interface RoleKeyIds {
  root: PublicTufKey;
  targets: PublicTufKey;
  snapshot: PublicTufKey;
  timestamp: PublicTufKey;
}

/** The public half of a key as the spec's `KEY` object (what `keys` maps key IDs to). */
function keyJson(key: PublicTufKey): Record<string, unknown> {
  return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: key.publicHex } };
}

type Signed = Record<string, unknown>;

function common(type: string, version: number, expires: string): Signed {
  return { _type: type, spec_version: TUF_SPEC_VERSION, version, expires };
}

/** Root with the four top-level roles, threshold 1 each, consistent snapshots on (PEP 458). */
export function buildRoot(options: { version: number; expires: string; keys: RoleKeyIds }): Signed {
  const keys: Record<string, unknown> = {};
  const roles: Record<string, unknown> = {};
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    const key = options.keys[role];
    keys[key.keyId] = keyJson(key);
    roles[role] = { keyids: [key.keyId], threshold: 1 };
  }
  return { ...common('root', options.version, options.expires), consistent_snapshot: true, keys, roles };
}

/**
 * Top-level targets lists no files itself: it delegates every distribution and simple-page path to
 * `bins`, so other delegations (PEP 480 developer roles) can be added beside it later without
 * touching the bins → bin-n mapping (PEP 458, "Minimum Security Model").
 */
export function buildTopLevelTargets(options: { version: number; expires: string; binsKey: PublicTufKey }): Signed {
  return {
    ...common('targets', options.version, options.expires),
    targets: {},
    delegations: {
      keys: { [options.binsKey.keyId]: keyJson(options.binsKey) },
      roles: [{ name: BINS_ROLE, keyids: [options.binsKey.keyId], threshold: 1, terminating: true, paths: DELEGATED_TARGET_PATTERNS }],
    },
  };
}

/** `bins` delegates to 2^bits bin-n roles, all signed by the online key, succinctly (TAP 15). */
export function buildBinsRole(options: { version: number; expires: string; bits: number; binKey: PublicTufKey }): Signed {
  return {
    ...common('targets', options.version, options.expires),
    targets: {},
    delegations: {
      keys: { [options.binKey.keyId]: keyJson(options.binKey) },
      succinct_roles: { keyids: [options.binKey.keyId], threshold: 1, bit_length: options.bits, name_prefix: BIN_NAME_PREFIX },
    },
  };
}

/** The `targets` object of a bin: path → {length, hashes, custom?}. */
export function binTargetsJson(targets: Iterable<TargetEntry>): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  for (const t of targets) json[t.path] = { length: t.length, hashes: { sha256: t.sha256 }, ...(t.custom ? { custom: t.custom } : {}) };
  return json;
}

/** Digest of a bin's target list, to tell whether it changed without comparing entries. */
export function binContentDigest(targets: Iterable<TargetEntry>): string {
  return createHash('sha256').update(canonicalJson(binTargetsJson(targets))).digest('hex');
}

export function buildBin(options: { version: number; expires: string; targets: Iterable<TargetEntry> }): Signed {
  return { ...common('targets', options.version, options.expires), targets: binTargetsJson(options.targets) };
}

/**
 * Snapshot lists the version of every targets role. Versions only, no hashes: with consistent
 * snapshots a version names exactly one file, and it keeps snapshot small (PEP 458 Table 3).
 */
export function buildSnapshot(options: { version: number; expires: string; roleVersions: ReadonlyMap<string, number> }): Signed {
  const meta: Record<string, unknown> = {};
  for (const [role, version] of options.roleVersions) meta[`${role}.json`] = { version };
  return { ...common('snapshot', options.version, options.expires), meta };
}

/** Timestamp pins the snapshot by version, length and hash (TUF §4.6), so a mirror cannot swap it. */
export function buildTimestamp(options: { version: number; expires: string; snapshot: SnapshotPin }): Signed {
  return {
    ...common('timestamp', options.version, options.expires),
    meta: { 'snapshot.json': { version: options.snapshot.version, length: options.snapshot.length, hashes: { sha256: options.snapshot.sha256 } } },
  };
}

export interface SnapshotPin {
  version: number;
  length: number;
  sha256: string;
}

export function snapshotPin(version: number, bytes: Buffer): SnapshotPin {
  return { version, length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Signs the canonical JSON of `signed` with each key (ed25519, TUF §4.2) and returns the bytes
 * served: `{"signatures": […], "signed": …}`. The transport form need not be canonical; timestamp
 * and snapshot pin these exact bytes by hash.
 */
export function signMetadata(signed: Signed, keys: readonly TufSigningKey[]): Buffer {
  const payload = Buffer.from(canonicalJson(signed), 'utf8');
  const signatures = keys.map((key) => ({ keyid: key.keyId, sig: sign(null, payload, key.privateKey).toString('hex') }));
  return Buffer.from(JSON.stringify({ signatures, signed }));
}

/** tuf-js's parsers, for checks and tests (they take quadratic time on large bins: keep bins small). */
export function parseRootMetadata(bytes: Buffer): Metadata<Root> {
  return Metadata.fromJSON(MetadataKind.Root, JSON.parse(bytes.toString('utf8')));
}
export function parseTargetsMetadata(bytes: Buffer): Metadata<Targets> {
  return Metadata.fromJSON(MetadataKind.Targets, JSON.parse(bytes.toString('utf8')));
}
export function parseSnapshotMetadata(bytes: Buffer): Metadata<Snapshot> {
  return Metadata.fromJSON(MetadataKind.Snapshot, JSON.parse(bytes.toString('utf8')));
}
export function parseTimestampMetadata(bytes: Buffer): Metadata<Timestamp> {
  return Metadata.fromJSON(MetadataKind.Timestamp, JSON.parse(bytes.toString('utf8')));
}
