import { Timestamp, type Metadata, type Root, type Snapshot, type TargetFile, type Targets } from '@tufjs/models';
import { CairnError } from '../errors.ts';
import { needsRenewal, tufExpiry, type TufExpiryPolicy } from './expiry.ts';
import { hashedBinLayout, isValidBinCount, type HashedBinLayout } from './hashed-bins.ts';
import type { TufSigningKey } from './keys.ts';
import {
  BINS_ROLE,
  buildBin,
  buildBinsRole,
  buildRoot,
  buildSnapshot,
  buildTimestamp,
  buildTopLevelTargets,
  serializeMetadata,
  signMetadata,
  type PublicTufKey,
} from './metadata.ts';

/** The metadata a repository currently publishes (the consistent snapshot timestamp.json names). */
export interface TufRepositoryState {
  root: Metadata<Root>;
  targets: Metadata<Targets>;
  bins: Metadata<Targets>;
  binRoles: Map<string, Metadata<Targets>>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
}

/**
 * Private keys at hand. PEP 458 keeps root, targets and bins offline: when their key is absent the
 * role is left as it is (and a warning says when it needs its key back). The online key signs
 * timestamp, snapshot and every bin-n role, as PEP 458 ("Number and Type Of Keys") recommends.
 */
export interface TufKeyring {
  root?: TufSigningKey;
  targets?: TufSigningKey;
  bins?: TufSigningKey;
  online: TufSigningKey;
}

export interface TufUpdateInput {
  now: Date;
  policy: TufExpiryPolicy;
  layout: HashedBinLayout;
  keys: TufKeyring;
  /**
   * The full target list of every bin that may have changed. Bins not listed keep their targets.
   * A new repository or a new layout needs every bin listed.
   */
  binTargets: Map<string, TargetFile[]>;
}

/** One file to write under the metadata directory, e.g. `7.bin-3f.json`, `root.json`, `timestamp.json`. */
export interface TufMetadataFile {
  name: string;
  bytes: Buffer;
}

export interface TufUpdateResult {
  state: TufRepositoryState;
  /** In write order: versioned files first, `root.json` next, `timestamp.json` (the commit point) last. */
  files: TufMetadataFile[];
  /** Which roles got a new version. */
  changed: { root: boolean; targets: boolean; bins: boolean; binRoles: string[]; snapshot: boolean; timestamp: boolean };
  warnings: string[];
}

function keyOfRole(root: Root, role: string): PublicTufKey | undefined {
  const keyId = root.roles[role]?.keyIDs[0];
  const key = keyId ? root.keys[keyId] : undefined;
  return key?.keyVal.public ? { keyId: key.keyID, publicHex: key.keyVal.public } : undefined;
}

function delegatedKey(targets: Targets): PublicTufKey | undefined {
  const key = Object.values(targets.delegations?.keys ?? {})[0];
  return key?.keyVal.public ? { keyId: key.keyID, publicHex: key.keyVal.public } : undefined;
}

function sameRoleKeys(root: Root, wanted: Record<string, PublicTufKey>): boolean {
  return Object.entries(wanted).every(([role, key]) => {
    const ids = root.roles[role]?.keyIDs ?? [];
    return ids.length === 1 && ids[0] === key.keyId && root.roles[role]?.threshold === 1;
  });
}

/** The hashed-bin layout a published `bins` role uses, or null if it is not one cairn would build. */
export function layoutOfBinsRole(bins: Targets): HashedBinLayout | null {
  const roles = bins.delegations?.roles;
  if (!roles) return null;
  const count = Object.keys(roles).length;
  if (!isValidBinCount(count)) return null;
  const layout = hashedBinLayout(count);
  const matches = layout.bins.every((bin) => {
    const role = roles[bin.name];
    return role !== undefined && JSON.stringify(role.pathHashPrefixes) === JSON.stringify(bin.prefixes);
  });
  return matches ? layout : null;
}

function sameTargets(current: Targets, wanted: TargetFile[]): boolean {
  const have = current.targets;
  if (Object.keys(have).length !== wanted.length) return false;
  return wanted.every((target) => have[target.path]?.equals(target) === true);
}

function signedBy(metadata: Metadata<Root | Targets | Snapshot | Timestamp>, key: PublicTufKey): boolean {
  return metadata.signatures[key.keyId] !== undefined;
}

/**
 * Computes the next published state: re-signs only what changed or is due for renewal, bumps each
 * re-signed role's version by one, lists every targets role in a new snapshot and the snapshot in a
 * new timestamp (PEP 458, "Producing Consistent Snapshots"). Pure: the caller writes the files.
 */
export function updateRepository(current: TufRepositoryState | null, input: TufUpdateInput): TufUpdateResult {
  const { now, policy, layout, keys } = input;
  const warnings: string[] = [];
  const files: TufMetadataFile[] = [];
  const versioned = (version: number, role: string, metadata: Metadata<Root | Targets | Snapshot | Timestamp>) =>
    files.push({ name: `${version}.${role}.json`, bytes: serializeMetadata(metadata) });
  const offline = (role: 'root' | 'targets' | 'bins', why: string): never => {
    throw new CairnError('config.invalid', `TUF ${role} must be re-signed (${why}) but its key is offline: put ${role}.json back into the TUF keys directory`);
  };

  // Public keys of every role: the keyring's, else the ones the published metadata names.
  const rootKey = keys.root ?? (current ? keyOfRole(current.root.signed, 'root') : undefined);
  const targetsKey = keys.targets ?? (current ? keyOfRole(current.root.signed, 'targets') : undefined);
  const binsKey = keys.bins ?? (current ? delegatedKey(current.targets.signed) : undefined);
  if (!rootKey || !targetsKey || !binsKey) {
    throw new CairnError('config.invalid', 'a new TUF repository needs the root, targets and bins keys');
  }
  const online = keys.online;

  // root
  let root = current?.root;
  let rootChanged = false;
  const wantedRootKeys = { root: rootKey, targets: targetsKey, snapshot: online, timestamp: online };
  if (!root || !sameRoleKeys(root.signed, wantedRootKeys) || needsRenewal(root.signed.expires, now, policy.root)) {
    const why = !root ? 'new repository' : !sameRoleKeys(root.signed, wantedRootKeys) ? 'role keys changed' : 'expiry';
    if (keys.root) {
      const version = (root?.signed.version ?? 0) + 1;
      root = signMetadata(buildRoot({ version, expires: tufExpiry(now, policy.root), keys: wantedRootKeys }), [keys.root]);
      rootChanged = true;
      versioned(version, 'root', root);
    } else if (why === 'expiry') {
      warnings.push(`TUF root expires at ${root!.signed.expires}; re-sign it with the offline root key`);
    } else {
      offline('root', why);
    }
  }

  // targets → bins
  let targets = current?.targets;
  let targetsChanged = false;
  const targetsStale = !targets || delegatedKey(targets.signed)?.keyId !== binsKey.keyId;
  if (targetsStale || needsRenewal(targets!.signed.expires, now, policy.targets)) {
    if (keys.targets) {
      const version = (targets?.signed.version ?? 0) + 1;
      targets = signMetadata(buildTopLevelTargets({ version, expires: tufExpiry(now, policy.targets), binsKey }), [keys.targets]);
      targetsChanged = true;
    } else if (!targetsStale) {
      warnings.push(`TUF targets expires at ${targets!.signed.expires}; re-sign it with the offline targets key`);
    } else {
      offline('targets', 'bins key changed');
    }
  }

  // bins → bin-n
  let bins = current?.bins;
  let binsChanged = false;
  const currentLayout = bins ? layoutOfBinsRole(bins.signed) : null;
  const binsStale = !bins || currentLayout?.count !== layout.count || delegatedKey(bins.signed)?.keyId !== online.keyId;
  if (binsStale || needsRenewal(bins!.signed.expires, now, policy.bins)) {
    if (keys.bins) {
      const version = (bins?.signed.version ?? 0) + 1;
      bins = signMetadata(buildBinsRole({ version, expires: tufExpiry(now, policy.bins), layout, binKey: online }), [keys.bins]);
      binsChanged = true;
    } else if (!binsStale) {
      warnings.push(`TUF bins expires at ${bins!.signed.expires}; re-sign it with the offline bins key`);
    } else {
      offline('bins', 'bin layout or online key changed');
    }
  }

  // bin-n
  const previousMeta = current?.snapshot.signed.meta ?? {};
  const binRoles = new Map<string, Metadata<Targets>>();
  const changedBins: string[] = [];
  for (const bin of layout.bins) {
    const existing = currentLayout?.count === layout.count ? current?.binRoles.get(bin.name) : undefined;
    const listed = input.binTargets.get(bin.name);
    // Bins not listed are unchanged: comparing every target of every bin would cost a scan per refresh.
    const stale =
      !existing ||
      (listed !== undefined && !sameTargets(existing.signed, listed)) ||
      !signedBy(existing, online) ||
      needsRenewal(existing.signed.expires, now, policy.binN);
    if (!stale) {
      binRoles.set(bin.name, existing);
      continue;
    }
    const wanted = listed ?? (existing ? Object.values(existing.signed.targets) : []);
    // A bin of an earlier layout may have had this name: versions only ever go up.
    const version = Math.max(existing?.signed.version ?? 0, previousMeta[`${bin.name}.json`]?.version ?? 0) + 1;
    const metadata = signMetadata(buildBin({ version, expires: tufExpiry(now, policy.binN), targets: wanted }), [online]);
    binRoles.set(bin.name, metadata);
    changedBins.push(bin.name);
    versioned(version, bin.name, metadata);
  }
  if (targetsChanged) versioned(targets!.signed.version, 'targets', targets!);
  if (binsChanged) versioned(bins!.signed.version, BINS_ROLE, bins!);

  // snapshot: every targets role's version. Roles of an earlier bin layout stay listed, since a
  // client refuses a snapshot that drops a file its trusted snapshot lists (TUF client workflow 5.5.5).
  let snapshot = current?.snapshot;
  let snapshotChanged = false;
  const roleVersions = new Map<string, number>();
  for (const [file, meta] of Object.entries(previousMeta)) roleVersions.set(file.replace(/\.json$/, ''), meta.version);
  roleVersions.set('targets', targets!.signed.version);
  roleVersions.set(BINS_ROLE, bins!.signed.version);
  for (const [name, metadata] of binRoles) roleVersions.set(name, metadata.signed.version);
  const listsChanged = [...roleVersions].some(([role, version]) => previousMeta[`${role}.json`]?.version !== version);
  let snapshotBytes: Buffer | undefined;
  if (!snapshot || listsChanged || !signedBy(snapshot, online) || needsRenewal(snapshot.signed.expires, now, policy.snapshot)) {
    const version = (snapshot?.signed.version ?? 0) + 1;
    snapshot = signMetadata(buildSnapshot({ version, expires: tufExpiry(now, policy.snapshot), roleVersions }), [online]);
    snapshotBytes = serializeMetadata(snapshot);
    snapshotChanged = true;
    files.push({ name: `${version}.snapshot.json`, bytes: snapshotBytes });
  }

  if (rootChanged) files.push({ name: 'root.json', bytes: serializeMetadata(root!) });

  // timestamp
  let timestamp = current?.timestamp;
  let timestampChanged = false;
  if (!timestamp || snapshotBytes || !signedBy(timestamp, online) || needsRenewal(timestamp.signed.expires, now, policy.timestamp)) {
    const version = (timestamp?.signed.version ?? 0) + 1;
    const signed = snapshotBytes
      ? buildTimestamp({ version, expires: tufExpiry(now, policy.timestamp), snapshotVersion: snapshot!.signed.version, snapshotBytes })
      : renewTimestamp(timestamp!.signed, version, tufExpiry(now, policy.timestamp));
    timestamp = signMetadata(signed, [online]);
    timestampChanged = true;
    files.push({ name: 'timestamp.json', bytes: serializeMetadata(timestamp) });
  }

  return {
    state: { root: root!, targets: targets!, bins: bins!, binRoles, snapshot: snapshot!, timestamp: timestamp! },
    files,
    changed: {
      root: rootChanged,
      targets: targetsChanged,
      bins: binsChanged,
      binRoles: changedBins,
      snapshot: snapshotChanged,
      timestamp: timestampChanged,
    },
    warnings,
  };
}

/** A new timestamp version for the same snapshot (same version, length and hash). */
function renewTimestamp(previous: Timestamp, version: number, expires: string): Timestamp {
  return Timestamp.fromJSON({ ...previous.toJSON(), version, expires });
}
