import { createHash } from 'node:crypto';
import { Metadata, MetadataKind, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp } from '@tufjs/models';
import type { HashedBinLayout } from './hashed-bins.ts';
import { tufPublicKey, tufSigner, type TufSigningKey } from './keys.ts';

/** The TUF specification version cairn's metadata declares (what @tufjs/models implements). */
export const TUF_SPEC_VERSION = '1.0.31';

/** PEP 458's role layout: targets → bins → bin-n (hashed bins), timestamp and snapshot on top. */
export const BINS_ROLE = 'bins';

/** Every distribution target lives at its download path below the index root (DESIGN §3). */
export const DISTRIBUTION_TARGET_PATTERN = 'files/*/*';

export type PublicTufKey = Pick<TufSigningKey, 'keyId' | 'publicHex'>;

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
export function distributionTarget(file: DistributionFileFacts): TargetFile {
  return new TargetFile({
    path: distributionTargetPath(file.sha256, file.filename),
    length: file.size,
    hashes: { sha256: file.sha256 },
    unrecognizedFields: { custom: { blake2b_256: file.blake2b256 } },
  });
}

/**
 * The PEP 658 core metadata of a distribution (`<file URL>.metadata`) as a TUF target: pip reads
 * it before it downloads the file, so a mirror must not be able to alter it either.
 */
export function coreMetadataTarget(file: { filename: string; sha256: string; metadataSha256: string; metadataLength: number }): TargetFile {
  return new TargetFile({
    path: `${distributionTargetPath(file.sha256, file.filename)}.metadata`,
    length: file.metadataLength,
    hashes: { sha256: file.metadataSha256 },
  });
}

export interface RoleKeyIds {
  root: PublicTufKey;
  targets: PublicTufKey;
  snapshot: PublicTufKey;
  timestamp: PublicTufKey;
}

/** The public half of a key as the spec's `KEY` object (what `keys` maps key IDs to). */
function keyJson(key: PublicTufKey): { keytype: string; scheme: string; keyval: { public: string } } {
  return tufPublicKey(key).toJSON() as { keytype: string; scheme: string; keyval: { public: string } };
}

/**
 * Root with the four top-level roles, threshold 1 each, consistent snapshots on (PEP 458). Built
 * from the spec's JSON form through @tufjs/models' parser, which validates it (the role classes
 * themselves are not exported).
 */
export function buildRoot(options: { version: number; expires: string; keys: RoleKeyIds }): Root {
  const keys: Record<string, ReturnType<typeof keyJson>> = {};
  const roles: Record<string, { keyids: string[]; threshold: number }> = {};
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    const key = options.keys[role];
    keys[key.keyId] = keyJson(key);
    roles[role] = { keyids: [key.keyId], threshold: 1 };
  }
  return Root.fromJSON({
    _type: 'root',
    spec_version: TUF_SPEC_VERSION,
    version: options.version,
    expires: options.expires,
    consistent_snapshot: true,
    keys,
    roles,
  });
}

function targetsWithDelegations(
  options: { version: number; expires: string },
  key: PublicTufKey,
  roles: { name: string; paths?: string[]; path_hash_prefixes?: string[] }[],
): Targets {
  return Targets.fromJSON({
    _type: 'targets',
    spec_version: TUF_SPEC_VERSION,
    version: options.version,
    expires: options.expires,
    targets: {},
    delegations: {
      keys: { [key.keyId]: keyJson(key) },
      roles: roles.map((role) => ({ keyids: [key.keyId], threshold: 1, terminating: true, ...role })),
    },
  });
}

/**
 * Top-level targets lists no files itself: it delegates every distribution path to `bins`, so
 * other delegations (PEP 480 developer roles) can be added beside it later without touching the
 * bins → bin-n mapping (PEP 458, "Minimum Security Model").
 */
export function buildTopLevelTargets(options: { version: number; expires: string; binsKey: PublicTufKey }): Targets {
  return targetsWithDelegations(options, options.binsKey, [{ name: BINS_ROLE, paths: [DISTRIBUTION_TARGET_PATTERN] }]);
}

/** `bins` delegates each hash-prefix range to one bin-n role, all signed by the online key. */
export function buildBinsRole(options: { version: number; expires: string; layout: HashedBinLayout; binKey: PublicTufKey }): Targets {
  return targetsWithDelegations(
    options,
    options.binKey,
    options.layout.bins.map((bin) => ({ name: bin.name, path_hash_prefixes: bin.prefixes })),
  );
}

export function buildBin(options: { version: number; expires: string; targets: Iterable<TargetFile> }): Targets {
  const targets: Record<string, TargetFile> = {};
  for (const target of options.targets) targets[target.path] = target;
  return new Targets({ version: options.version, expires: options.expires, specVersion: TUF_SPEC_VERSION, targets });
}

/**
 * Snapshot lists the version of every targets role. Versions only, no hashes: with consistent
 * snapshots a version names exactly one file, and it keeps snapshot small (PEP 458 Table 3).
 */
export function buildSnapshot(options: { version: number; expires: string; roleVersions: Map<string, number> }): Snapshot {
  const meta: Record<string, MetaFile> = {};
  for (const [role, version] of [...options.roleVersions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    meta[`${role}.json`] = new MetaFile({ version });
  }
  return new Snapshot({ version: options.version, expires: options.expires, specVersion: TUF_SPEC_VERSION, meta });
}

/** Timestamp pins the snapshot by version, length and hash (TUF §4.6), so a mirror cannot swap it. */
export function buildTimestamp(options: { version: number; expires: string; snapshotVersion: number; snapshotBytes: Buffer }): Timestamp {
  return new Timestamp({
    version: options.version,
    expires: options.expires,
    specVersion: TUF_SPEC_VERSION,
    snapshotMeta: new MetaFile({
      version: options.snapshotVersion,
      length: options.snapshotBytes.length,
      hashes: { sha256: createHash('sha256').update(options.snapshotBytes).digest('hex') },
    }),
  });
}

/** Signs the canonical JSON of `signed` (TUF §4.2) with each key, through @tufjs/models. */
export function signMetadata<T extends Root | Targets | Snapshot | Timestamp>(signed: T, keys: TufSigningKey[]): Metadata<T> {
  const metadata = new Metadata(signed);
  for (const key of keys) metadata.sign(tufSigner(key));
  return metadata;
}

/** The bytes written to disk and served; hashes in timestamp are over exactly these. */
export function serializeMetadata(metadata: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(JSON.stringify(metadata.toJSON()));
}

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
