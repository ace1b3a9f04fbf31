import { CairnError } from '../errors.ts';
import { needsRenewal, tufExpiry, type TufExpiryPolicy } from './expiry.ts';
import { hashedBinLayout, MAX_BIN_BITS } from './hashed-bins.ts';
import type { TufSigningKey } from './keys.ts';
import {
  BINS_ROLE,
  binContentDigest,
  buildBin,
  buildBinsRole,
  buildRoot,
  buildSnapshot,
  buildTimestamp,
  buildTopLevelTargets,
  signMetadata,
  snapshotPin,
  type PublicTufKey,
  type SnapshotPin,
  type TargetEntry,
} from './metadata.ts';

/** What is known of a published role without parsing its metadata again. */
export interface PublishedRole {
  version: number;
  expires: string;
  /** The key that signed it. */
  keyId: string;
}

/**
 * The metadata a repository currently publishes (the consistent snapshot timestamp.json names),
 * as records: enough to decide what to re-sign, small enough to keep for thousands of bins.
 */
export interface TufRepositoryState {
  root: PublishedRole & { roleKeys: Record<'root' | 'targets' | 'snapshot' | 'timestamp', PublicTufKey> };
  targets: PublishedRole & { binsKey: PublicTufKey };
  bins: PublishedRole & { bits: number; binKey: PublicTufKey };
  /** Every bin role snapshot lists, including bins of earlier layouts (snapshot never drops a role). */
  binRoles: Map<string, PublishedRole & { contentSha256: string }>;
  snapshot: PublishedRole & { pin: SnapshotPin };
  timestamp: PublishedRole;
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

/** One file to write, e.g. `7.bin-3f.json`, `root.json`, `timestamp.json`. */
export interface TufMetadataFile {
  name: string;
  bytes: Buffer;
}

export interface TufUpdatePlan {
  now: Date;
  policy: TufExpiryPolicy;
  keys: TufKeyring;
  /** The layout bins are signed in. */
  bits: number;
  /** Every bin of the layout must be (re)signed: a new repository, a new layout or a new online key. */
  allBins: boolean;
  /** Bins of the current layout due for renewal (expiry), when not all are. */
  renewBins: string[];
  /** Files of root, targets and bins, when they change (written before the snapshot). */
  files: TufMetadataFile[];
  root: TufRepositoryState['root'];
  targets: TufRepositoryState['targets'];
  bins: TufRepositoryState['bins'];
  changed: { root: boolean; targets: boolean; bins: boolean };
  warnings: string[];
}

export interface SignedBin {
  name: string;
  record: PublishedRole & { contentSha256: string };
  file: TufMetadataFile | null;
}

export interface TufUpdateResult {
  state: TufRepositoryState;
  /** In write order: versioned files first, `root.json` next, `timestamp.json` (the commit point) last. */
  files: TufMetadataFile[];
  changed: { root: boolean; targets: boolean; bins: boolean; binRoles: string[]; snapshot: boolean; timestamp: boolean };
  warnings: string[];
}

function publicKey(key: TufSigningKey): PublicTufKey {
  return { keyId: key.keyId, publicHex: key.publicHex };
}

/**
 * Decides which of root, targets and bins must be re-signed and whether every bin must be, from
 * the published state, the keys at hand and the wanted layout. Pure.
 */
export function planUpdate(current: TufRepositoryState | null, options: { now: Date; policy: TufExpiryPolicy; bits: number; keys: TufKeyring }): TufUpdatePlan {
  const { now, policy, keys } = options;
  const warnings: string[] = [];
  const files: TufMetadataFile[] = [];
  const offline = (role: 'root' | 'targets' | 'bins', why: string): never => {
    throw new CairnError('config.invalid', `TUF ${role} must be re-signed (${why}) but its key is offline: put ${role}.json back into the TUF keys directory`);
  };
  if (!Number.isInteger(options.bits) || options.bits < 1 || options.bits > MAX_BIN_BITS) {
    throw new CairnError('config.invalid', `a TUF bin layout needs 1 to ${MAX_BIN_BITS} bits, got ${options.bits}`);
  }

  // Public keys of every role: the keyring's, else the ones the published metadata names.
  const rootKey = keys.root ? publicKey(keys.root) : current?.root.roleKeys.root;
  const targetsKey = keys.targets ? publicKey(keys.targets) : current?.root.roleKeys.targets;
  const binsKey = keys.bins ? publicKey(keys.bins) : current?.targets.binsKey;
  if (!rootKey || !targetsKey || !binsKey) throw new CairnError('config.invalid', 'a new TUF repository needs the root, targets and bins keys');
  const online = publicKey(keys.online);

  // root
  let root = current?.root;
  let rootChanged = false;
  const wantedRootKeys = { root: rootKey, targets: targetsKey, snapshot: online, timestamp: online };
  const sameRootKeys = root !== undefined && (['root', 'targets', 'snapshot', 'timestamp'] as const).every((r) => root!.roleKeys[r].keyId === wantedRootKeys[r].keyId);
  if (!root || !sameRootKeys || needsRenewal(root.expires, now, policy.root)) {
    const why = !root ? 'new repository' : !sameRootKeys ? 'role keys changed' : 'expiry';
    if (keys.root) {
      const version = (root?.version ?? 0) + 1;
      const expires = tufExpiry(now, policy.root);
      files.push({ name: `${version}.root.json`, bytes: signMetadata(buildRoot({ version, expires, keys: wantedRootKeys }), [keys.root]) });
      root = { version, expires, keyId: keys.root.keyId, roleKeys: wantedRootKeys };
      rootChanged = true;
    } else if (why === 'expiry') {
      warnings.push(`TUF root expires at ${root!.expires}; re-sign it with the offline root key`);
    } else {
      offline('root', why);
    }
  }

  // targets → bins
  let targets = current?.targets;
  let targetsChanged = false;
  const targetsStale = !targets || targets.binsKey.keyId !== binsKey.keyId;
  if (targetsStale || needsRenewal(targets!.expires, now, policy.targets)) {
    if (keys.targets) {
      const version = (targets?.version ?? 0) + 1;
      const expires = tufExpiry(now, policy.targets);
      files.push({ name: `${version}.targets.json`, bytes: signMetadata(buildTopLevelTargets({ version, expires, binsKey }), [keys.targets]) });
      targets = { version, expires, keyId: keys.targets.keyId, binsKey };
      targetsChanged = true;
    } else if (!targetsStale) {
      warnings.push(`TUF targets expires at ${targets!.expires}; re-sign it with the offline targets key`);
    } else {
      offline('targets', 'bins key changed');
    }
  }

  // bins → bin-n
  let bins = current?.bins;
  let binsChanged = false;
  let bits = options.bits;
  const binsStale = !bins || bins.bits !== bits || bins.binKey.keyId !== online.keyId;
  if (binsStale || needsRenewal(bins!.expires, now, policy.bins)) {
    if (keys.bins) {
      const version = (bins?.version ?? 0) + 1;
      const expires = tufExpiry(now, policy.bins);
      files.push({ name: `${version}.${BINS_ROLE}.json`, bytes: signMetadata(buildBinsRole({ version, expires, bits, binKey: online }), [keys.bins]) });
      bins = { version, expires, keyId: keys.bins.keyId, bits, binKey: online };
      binsChanged = true;
    } else if (!binsStale) {
      warnings.push(`TUF bins expires at ${bins!.expires}; re-sign it with the offline bins key`);
    } else if (bins && bins.binKey.keyId === online.keyId) {
      // Only the layout would change: keep the published one until the bins key is back.
      warnings.push(`TUF keeps ${2 ** bins.bits} bins: changing to ${2 ** bits} needs the offline bins key`);
      bits = bins.bits;
    } else {
      offline('bins', 'bin layout or online key changed');
    }
  }

  const allBins = !current || binsChanged && (current.bins.bits !== bits || current.bins.binKey.keyId !== online.keyId);
  const renewBins: string[] = [];
  if (!allBins && current) {
    for (const bin of hashedBinLayout(2 ** bits).bins) {
      const record = current.binRoles.get(bin.name);
      if (!record || record.keyId !== online.keyId || needsRenewal(record.expires, now, policy.binN)) renewBins.push(bin.name);
    }
  }
  return {
    now,
    policy,
    keys,
    bits,
    allBins,
    renewBins,
    files,
    root: root!,
    targets: targets!,
    bins: bins!,
    changed: { root: rootChanged, targets: targetsChanged, bins: binsChanged },
    warnings,
  };
}

/**
 * Signs one bin if its targets changed or it must be renewed; otherwise keeps the published
 * record. Versions only go up, also when a bin of an earlier layout had the same name.
 */
export function signBin(current: TufRepositoryState | null, plan: TufUpdatePlan, name: string, targets: readonly TargetEntry[], options: { force: boolean }): SignedBin {
  const existing = current?.binRoles.get(name);
  const contentSha256 = binContentDigest(targets);
  if (existing && !options.force && existing.contentSha256 === contentSha256 && existing.keyId === plan.keys.online.keyId) {
    return { name, record: existing, file: null };
  }
  const version = (existing?.version ?? 0) + 1;
  const expires = tufExpiry(plan.now, plan.policy.binN);
  const bytes = signMetadata(buildBin({ version, expires, targets }), [plan.keys.online]);
  return { name, record: { version, expires, keyId: plan.keys.online.keyId, contentSha256 }, file: { name: `${version}.${name}.json`, bytes } };
}

/**
 * The new snapshot and timestamp over the planned roles and the signed bins (PEP 458, "Producing
 * Consistent Snapshots"). Pure: the caller writes the files, timestamp.json last.
 */
export function finishUpdate(current: TufRepositoryState | null, plan: TufUpdatePlan, signedBins: readonly SignedBin[]): TufUpdateResult {
  const { now, policy, keys } = plan;
  const online = keys.online;
  const files: TufMetadataFile[] = [...plan.files.filter((f) => !/\.root\.json$/.test(f.name))];
  const binRoles = new Map(current?.binRoles ?? []);
  const changedBins: string[] = [];
  for (const bin of signedBins) {
    binRoles.set(bin.name, bin.record);
    if (bin.file) {
      files.push(bin.file);
      changedBins.push(bin.name);
    }
  }
  files.unshift(...plan.files.filter((f) => /\.root\.json$/.test(f.name)));

  // snapshot: every targets role's version. Roles of an earlier bin layout stay listed, since a
  // client refuses a snapshot that drops a file its trusted snapshot lists (TUF client workflow 5.5.5).
  const roleVersions = new Map<string, number>([
    ['targets', plan.targets.version],
    [BINS_ROLE, plan.bins.version],
  ]);
  for (const [name, record] of [...binRoles].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) roleVersions.set(name, record.version);
  const listsChanged =
    !current ||
    plan.changed.targets ||
    plan.changed.bins ||
    changedBins.length > 0 ||
    [...binRoles.keys()].some((name) => !current.binRoles.has(name));
  let snapshot = current?.snapshot;
  let snapshotChanged = false;
  if (!snapshot || listsChanged || snapshot.keyId !== online.keyId || needsRenewal(snapshot.expires, now, policy.snapshot)) {
    const version = (snapshot?.version ?? 0) + 1;
    const expires = tufExpiry(now, policy.snapshot);
    const bytes = signMetadata(buildSnapshot({ version, expires, roleVersions }), [online]);
    files.push({ name: `${version}.snapshot.json`, bytes });
    snapshot = { version, expires, keyId: online.keyId, pin: snapshotPin(version, bytes) };
    snapshotChanged = true;
  }

  if (plan.changed.root) {
    const latest = plan.files.find((f) => f.name === `${plan.root.version}.root.json`)!;
    files.push({ name: 'root.json', bytes: latest.bytes });
  }

  // timestamp
  let timestamp = current?.timestamp;
  let timestampChanged = false;
  if (!timestamp || snapshotChanged || timestamp.keyId !== online.keyId || needsRenewal(timestamp.expires, now, policy.timestamp)) {
    const version = (timestamp?.version ?? 0) + 1;
    const expires = tufExpiry(now, policy.timestamp);
    files.push({ name: 'timestamp.json', bytes: signMetadata(buildTimestamp({ version, expires, snapshot: snapshot!.pin }), [online]) });
    timestamp = { version, expires, keyId: online.keyId };
    timestampChanged = true;
  }

  return {
    state: { root: plan.root, targets: plan.targets, bins: plan.bins, binRoles, snapshot: snapshot!, timestamp: timestamp! },
    files,
    changed: { ...plan.changed, binRoles: changedBins, snapshot: snapshotChanged, timestamp: timestampChanged },
    warnings: plan.warnings,
  };
}

/**
 * Plan, sign and finish in memory, for repositories whose bins fit in memory (tests, small
 * indexes). `binTargets` holds the full target list of every bin that may have changed; a bin not
 * listed is unchanged, and one due for renewal must be listed (its content is not kept here).
 */
export function updateRepository(
  current: TufRepositoryState | null,
  input: { now: Date; policy: TufExpiryPolicy; bits: number; keys: TufKeyring; binTargets: ReadonlyMap<string, TargetEntry[]> },
): TufUpdateResult {
  const plan = planUpdate(current, input);
  const signed: SignedBin[] = [];
  for (const bin of hashedBinLayout(2 ** plan.bits).bins) {
    const listed = input.binTargets.get(bin.name);
    const renew = plan.allBins || plan.renewBins.includes(bin.name);
    if (listed === undefined && !renew) continue;
    if (listed === undefined && current?.binRoles.has(bin.name)) {
      throw new CairnError('internal.error', `TUF ${bin.name} must be renewed: pass its targets`);
    }
    signed.push(signBin(current, plan, bin.name, listed ?? [], { force: renew }));
  }
  return finishUpdate(current, plan, signed);
}
