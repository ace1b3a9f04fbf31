import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TargetFile } from '@tufjs/models';
import { sql, type Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { DEFAULT_EXPIRY_POLICY, type TufExpiryPolicy } from '../../tuf/expiry.ts';
import { binOf, hashedBinLayout, type HashedBinLayout } from '../../tuf/hashed-bins.ts';
import { generateTufKey, storedTufKey, tufKeyFromStored, type TufSigningKey } from '../../tuf/keys.ts';
import {
  BINS_ROLE,
  coreMetadataTarget,
  distributionTarget,
  parseRootMetadata,
  parseSnapshotMetadata,
  parseTargetsMetadata,
  parseTimestampMetadata,
} from '../../tuf/metadata.ts';
import { layoutOfBinsRole, updateRepository, type TufKeyring, type TufRepositoryState } from '../../tuf/repository-update.ts';
import type { Database } from '../storage/schema.ts';

export interface TufSettings {
  /** Number of bin-n roles (a power of two); PEP 458 sized PyPI at 16,384, cairn defaults to 256. */
  binCount: number;
  policy: TufExpiryPolicy;
  /** How long a superseded consistent snapshot stays downloadable (PEP 458 suggests about an hour). */
  retentionSeconds: number;
}

export const DEFAULT_TUF_SETTINGS: TufSettings = { binCount: 256, policy: DEFAULT_EXPIRY_POLICY, retentionSeconds: 3600 };

/** Names a client may ask for: `timestamp.json`, `root.json`, `<version>.<role>.json`. */
export const TUF_METADATA_NAME = /^(?:timestamp|root|[1-9]\d{0,15}\.(?:root|targets|snapshot|bins|bin-[0-9a-f]{1,4}(?:-[0-9a-f]{1,4})?))\.json$/;

const VERSIONED_NAME = /^([1-9]\d{0,15})\.([a-z0-9-]+)\.json$/;
const KEY_NAMES = ['root', 'targets', 'bins', 'online'] as const;
type KeyName = (typeof KEY_NAMES)[number];
const LOCK_STALE_MS = 60_000;
const PRUNE_INTERVAL_MS = 10 * 60_000;
const SCAN_PAGE = 5000;
const WRITE_CONCURRENCY = 32;

export interface TufRefreshOutcome {
  timestampVersion: number;
  snapshotVersion: number;
  rootVersion: number;
  /** Files written by this refresh (`timestamp.json`, `12.snapshot.json`, …). */
  written: string[];
  warnings: string[];
}

interface CatalogueFingerprint {
  count: number;
  maxId: number;
}

/**
 * The index's TUF repository (PEP 458): metadata is derived from the catalogue (table `files`,
 * read only) and kept under `<dataDir>/tuf/metadata/` as consistent-snapshot files; keys live in
 * `<dataDir>/tuf/keys/`. `refresh()` re-signs what the catalogue or the clock made stale.
 * Snapshots are produced strictly one after another (PEP 458): an in-process queue plus a lock
 * file, so `cairn admin tuf …` and a running server never interleave.
 */
export class TufRepository {
  readonly tufDir: string;
  readonly metadataDir: string;
  readonly keysDir: string;
  private state: TufRepositoryState | null = null;
  private fingerprint: CatalogueFingerprint | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private queued: Promise<TufRefreshOutcome> | null = null;
  private lastPrune = 0;
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly options: {
      dataDir: string;
      db: Kysely<Database>;
      clock: () => Date;
      settings?: TufSettings;
      warn?: (message: string) => void;
    },
  ) {
    this.tufDir = join(options.dataDir, 'tuf');
    this.metadataDir = join(this.tufDir, 'metadata');
    this.keysDir = join(this.tufDir, 'keys');
  }

  /** Offline-key reminders come up on every refresh; say each once a day, not per request. */
  private warnDaily(message: string): void {
    const last = this.warned.get(message);
    if (last !== undefined && Date.now() - last < 24 * 3600 * 1000) return;
    this.warned.set(message, Date.now());
    this.options.warn?.(message);
  }

  private get settings(): TufSettings {
    return this.options.settings ?? DEFAULT_TUF_SETTINGS;
  }

  /**
   * Brings the published metadata up to date. Callers arriving while a refresh waits to start
   * share it: it has not read the catalogue yet, so it sees whatever they committed.
   */
  refresh(): Promise<TufRefreshOutcome> {
    if (this.queued) return this.queued;
    // `running` never rejects (see below), so the next refresh starts whatever the last one did.
    const run = this.running.then(() => {
      this.queued = null;
      return this.withFileLock(() => this.refreshLocked());
    });
    this.queued = run;
    this.running = run.catch(() => undefined);
    return run;
  }

  /** A published metadata file, or null. Names are checked first: nothing outside the directory is read. */
  async readMetadata(name: string): Promise<Buffer | null> {
    if (!TUF_METADATA_NAME.test(name)) return null;
    try {
      return await readFile(join(this.metadataDir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Where the latest root lives, after making sure the repository exists. */
  async latestRoot(): Promise<{ path: string; bytes: Buffer; version: number }> {
    if (!(await this.readMetadata('timestamp.json'))) await this.refresh();
    const path = join(this.metadataDir, 'root.json');
    const bytes = await readFile(path);
    return { path, bytes, version: parseRootMetadata(bytes).signed.version };
  }

  private async refreshLocked(): Promise<TufRefreshOutcome> {
    const now = this.options.clock();
    await mkdir(this.metadataDir, { recursive: true });
    const onDisk = await this.readMetadata('timestamp.json');
    const diskVersion = onDisk ? parseTimestampMetadata(onDisk).signed.version : null;
    if (!this.state || diskVersion !== this.state.timestamp.signed.version) {
      // First use, or another process (an admin command) published since: the disk is the truth.
      this.state = diskVersion === null ? null : await this.loadState();
      this.fingerprint = null;
    }
    const keys = await this.loadKeyring(this.state === null);
    const layout = this.chooseLayout(keys);

    const fingerprint = await this.catalogueFingerprint();
    const binTargets = await this.changedBins(layout, fingerprint);
    const result = updateRepository(this.state, { now, policy: this.settings.policy, layout, keys, binTargets });
    // Versioned files are invisible until timestamp.json names them, so they go in parallel; the
    // latest root and then timestamp.json (the commit point) follow, in that order.
    const pointers = new Set(['root.json', 'timestamp.json']);
    const versioned = result.files.filter((f) => !pointers.has(f.name));
    for (let i = 0; i < versioned.length; i += WRITE_CONCURRENCY) {
      await Promise.all(versioned.slice(i, i + WRITE_CONCURRENCY).map((f) => this.writeAtomically(join(this.metadataDir, f.name), f.bytes, 0o644)));
    }
    for (const file of result.files.filter((f) => pointers.has(f.name))) {
      await this.writeAtomically(join(this.metadataDir, file.name), file.bytes, 0o644);
    }
    this.state = result.state;
    this.fingerprint = fingerprint;
    for (const warning of result.warnings) this.warnDaily(warning);
    if (result.files.length > 0 && Date.now() - this.lastPrune > PRUNE_INTERVAL_MS) {
      this.lastPrune = Date.now();
      await this.prune(now);
    }
    return {
      timestampVersion: result.state.timestamp.signed.version,
      snapshotVersion: result.state.snapshot.signed.version,
      rootVersion: result.state.root.signed.version,
      written: result.files.map((f) => f.name),
      warnings: result.warnings,
    };
  }

  /** The configured layout, unless changing it needs the bins key and that key is offline. */
  private chooseLayout(keys: TufKeyring): HashedBinLayout {
    const wanted = hashedBinLayout(this.settings.binCount);
    if (!this.state || keys.bins) return wanted;
    const current = layoutOfBinsRole(this.state.bins.signed);
    if (current && current.count !== wanted.count) {
      this.warnDaily(`TUF keeps ${current.count} bins: changing to ${wanted.count} needs the offline bins key`);
      return current;
    }
    return wanted;
  }

  private async loadState(): Promise<TufRepositoryState> {
    const need = async (name: string): Promise<Buffer> => {
      const bytes = await this.readMetadata(name);
      if (!bytes) {
        throw new CairnError('internal.error', `TUF metadata in ${this.metadataDir} is incomplete: ${name} is missing (restore it from a backup)`);
      }
      return bytes;
    };
    const timestamp = parseTimestampMetadata(await need('timestamp.json'));
    const rootVersions = (await readdir(this.metadataDir))
      .map((name) => /^(\d+)\.root\.json$/.exec(name)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
    const root = parseRootMetadata(await need(`${Math.max(...rootVersions)}.root.json`));
    const snapshot = parseSnapshotMetadata(await need(`${timestamp.signed.snapshotMeta.version}.snapshot.json`));
    const versionOf = (role: string): number => {
      const meta = snapshot.signed.meta[`${role}.json`];
      if (!meta) throw new CairnError('internal.error', `TUF snapshot ${snapshot.signed.version} does not list ${role}`);
      return meta.version;
    };
    const targets = parseTargetsMetadata(await need(`${versionOf('targets')}.targets.json`));
    const bins = parseTargetsMetadata(await need(`${versionOf(BINS_ROLE)}.${BINS_ROLE}.json`));
    const binRoles = new Map<string, ReturnType<typeof parseTargetsMetadata>>();
    for (const name of Object.keys(bins.signed.delegations?.roles ?? {})) {
      binRoles.set(name, parseTargetsMetadata(await need(`${versionOf(name)}.${name}.json`)));
    }
    return { root, targets, bins, binRoles, snapshot, timestamp };
  }

  /**
   * Loads the keys present. A new repository gets every key generated; later only the online key
   * is required (PEP 458: root, targets and bins keys belong offline once the repository exists).
   */
  private async loadKeyring(initialising: boolean): Promise<TufKeyring> {
    await mkdir(this.keysDir, { recursive: true, mode: 0o700 });
    const found: Partial<Record<KeyName, TufSigningKey>> = {};
    for (const name of KEY_NAMES) {
      const path = join(this.keysDir, `${name}.json`);
      let raw: string | null = null;
      try {
        raw = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      if (raw !== null) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          throw new CairnError('config.invalid', `${path} is not JSON`);
        }
        found[name] = tufKeyFromStored(parsed, path);
      } else if (initialising || name === 'online') {
        const key = generateTufKey();
        await this.writeAtomically(path, Buffer.from(`${JSON.stringify(storedTufKey(key), null, 2)}\n`), 0o600);
        found[name] = key;
      }
    }
    return { root: found.root, targets: found.targets, bins: found.bins, online: found.online! };
  }

  private async catalogueFingerprint(): Promise<CatalogueFingerprint> {
    const row = await this.options.db
      .selectFrom('files')
      .select((eb) => [eb.fn.countAll().as('count'), eb.fn.max('id').as('maxId')])
      .executeTakeFirstOrThrow();
    return { count: Number(row.count), maxId: Number(row.maxId ?? 0) };
  }

  /**
   * Which bins need their target list recomputed. Files are immutable and ids only grow (SQLite
   * AUTOINCREMENT, PostgreSQL serial), so (count, max id) changes with every insert or delete, and
   * when count grew by exactly the number of rows above the old max id, nothing was deleted and
   * only those rows' bins changed. Anything else (first run, a delete, a new layout) rescans.
   */
  private async changedBins(layout: HashedBinLayout, fingerprint: CatalogueFingerprint): Promise<Map<string, TargetFile[]>> {
    const previous = this.fingerprint;
    const sameLayout = this.state !== null && layoutOfBinsRole(this.state.bins.signed)?.count === layout.count;
    if (previous && sameLayout && previous.count === fingerprint.count && previous.maxId === fingerprint.maxId) return new Map();
    if (previous && sameLayout && fingerprint.maxId > previous.maxId) {
      const added = await this.filesAfter(previous.maxId);
      if (previous.count + added.files === fingerprint.count) {
        const bins = new Map<string, Map<string, TargetFile>>();
        for (const target of added.targets) {
          const name = binOf(layout, target.path).name;
          let bin = bins.get(name);
          if (!bin) {
            bin = new Map(Object.entries(this.state!.binRoles.get(name)?.signed.targets ?? {}));
            bins.set(name, bin);
          }
          bin.set(target.path, target);
        }
        return new Map([...bins].map(([name, bin]) => [name, [...bin.values()]]));
      }
    }
    const all = new Map<string, TargetFile[]>(layout.bins.map((bin) => [bin.name, []]));
    for (const target of (await this.filesAfter(0)).targets) all.get(binOf(layout, target.path).name)!.push(target);
    return all;
  }

  /**
   * Targets of the files with id above `afterId` (each file and its PEP 658 metadata), read a page
   * at a time; `files` counts the rows.
   */
  private async filesAfter(afterId: number): Promise<{ targets: TargetFile[]; files: number }> {
    const targets: TargetFile[] = [];
    let files = 0;
    let after = afterId;
    for (;;) {
      const rows = await this.options.db
        .selectFrom('files')
        .select(['id', 'filename', 'sha256', 'size', 'blake2b_256', 'core_metadata_sha256'])
        // octet_length is SQL standard: PostgreSQL has it, and SQLite since 3.43.
        .select(sql<number>`octet_length(core_metadata)`.as('metadata_length'))
        .where('id', '>', after)
        .orderBy('id')
        .limit(SCAN_PAGE)
        .execute();
      for (const row of rows) {
        targets.push(distributionTarget({ filename: row.filename, sha256: row.sha256, size: Number(row.size), blake2b256: row.blake2b_256 }));
        targets.push(coreMetadataTarget({ filename: row.filename, sha256: row.sha256, metadataSha256: row.core_metadata_sha256, metadataLength: Number(row.metadata_length) }));
      }
      files += rows.length;
      if (rows.length < SCAN_PAGE) break;
      after = Number(rows[rows.length - 1]!.id);
    }
    return { targets, files };
  }

  /** Temp file, fsync, rename: a reader (or a crash) never sees half a metadata file or key. */
  private async writeAtomically(path: string, bytes: Buffer, mode: number): Promise<void> {
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, mode);
    await rename(temp, path);
  }

  /**
   * One refresh at a time across processes: `open(…, 'wx')` on a lock file. A lock older than a
   * minute belongs to a crashed process and is taken over.
   */
  private async withFileLock<T>(run: () => Promise<T>): Promise<T> {
    await mkdir(this.tufDir, { recursive: true });
    const lockPath = join(this.tufDir, 'refresh.lock');
    const deadline = Date.now() + 2 * LOCK_STALE_MS;
    for (;;) {
      try {
        const handle = await open(lockPath, 'wx');
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const age = await stat(lockPath).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if (age > LOCK_STALE_MS) await unlink(lockPath).catch(() => undefined);
        else if (Date.now() > deadline) throw new CairnError('internal.error', `TUF metadata is locked by ${lockPath}`);
        else await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    try {
      return await run();
    } finally {
      await unlink(lockPath).catch(() => undefined);
    }
  }

  /**
   * Deletes consistent snapshots superseded more than `retentionSeconds` ago, mark-and-sweep from
   * the snapshots still live (PEP 458, "Cleaning up old metadata"). Root versions are never deleted:
   * a client with any old root must be able to walk forward.
   */
  private async prune(now: Date): Promise<void> {
    const names = await readdir(this.metadataDir);
    const snapshots: { version: number; mtime: number }[] = [];
    for (const name of names) {
      const match = VERSIONED_NAME.exec(name);
      if (match?.[2] === 'snapshot') {
        const info = await stat(join(this.metadataDir, name)).catch(() => null);
        if (info) snapshots.push({ version: Number(match[1]), mtime: info.mtimeMs });
      }
    }
    snapshots.sort((a, b) => a.version - b.version);
    const cutoff = now.getTime() - this.settings.retentionSeconds * 1000;
    const live = new Set<string>();
    for (let i = 0; i < snapshots.length; i++) {
      const successor = snapshots[i + 1];
      // A snapshot stopped being current when its successor was written.
      if (successor && successor.mtime < cutoff) continue;
      const name = `${snapshots[i]!.version}.snapshot.json`;
      const bytes = await this.readMetadata(name);
      if (!bytes) continue;
      live.add(name);
      for (const [file, meta] of Object.entries(parseSnapshotMetadata(bytes).signed.meta)) live.add(`${meta.version}.${file}`);
    }
    for (const name of names) {
      if (name.endsWith('.tmp')) {
        // Left by a crash between write and rename.
        const info = await stat(join(this.metadataDir, name)).catch(() => null);
        if (info && info.mtimeMs < cutoff) await unlink(join(this.metadataDir, name)).catch(() => undefined);
        continue;
      }
      const match = VERSIONED_NAME.exec(name);
      if (!match || match[2] === 'root' || live.has(name)) continue;
      await unlink(join(this.metadataDir, name)).catch(() => undefined);
    }
  }
}
