import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { DEFAULT_EXPIRY_POLICY, type TufExpiryPolicy } from '../../tuf/expiry.ts';
import { binIndexOfSlot, hashedBinLayout, MAX_BIN_BITS, type HashedBin } from '../../tuf/hashed-bins.ts';
import { generateTufKey, storedTufKey, tufKeyFromStored, type TufSigningKey } from '../../tuf/keys.ts';
import { BINS_ROLE, parseRootMetadata, type TargetEntry } from '../../tuf/metadata.ts';
import {
  finishUpdate,
  planUpdate,
  signBin,
  type PublishedRole,
  type SignedBin,
  type TufKeyring,
  type TufMetadataFile,
  type TufRepositoryState,
  type TufUpdatePlan,
} from '../../tuf/repository-update.ts';
import type { Database } from '../storage/schema.ts';

export interface TufSettings {
  /**
   * Fewest bin-n roles (a power of two); more are used as the catalogue grows, so that no bin
   * holds more than `maxTargetsPerBin` targets. PEP 458 sized PyPI at 16,384 bins.
   */
  binCount: number;
  /** A bin past this many targets makes the repository double its bins (more if needed) at the next refresh. */
  maxTargetsPerBin: number;
  policy: TufExpiryPolicy;
  /** How long a superseded consistent snapshot stays downloadable (PEP 458 suggests about an hour). */
  retentionSeconds: number;
  /**
   * Where the signing keys are read (CAIRN_TUF_KEYS_DIR); `<dataDir>/tuf/keys` when unset. Every
   * instance of one index reads the same keys (a shared secret mount): an instance with keys of
   * its own would sign with a key the root does not name.
   */
  keysDir?: string;
}

export const DEFAULT_TUF_SETTINGS: TufSettings = { binCount: 256, maxTargetsPerBin: 1024, policy: DEFAULT_EXPIRY_POLICY, retentionSeconds: 3600 };

/** Names a client may ask for: `timestamp.json`, `root.json`, `<version>.<role>.json`. */
export const TUF_METADATA_NAME = /^(?:timestamp|root|[1-9]\d{0,15}\.(?:root|targets|snapshot|bins|bin-[0-9a-f]{1,4}))\.json$/;

const KEY_NAMES = ['root', 'targets', 'bins', 'online'] as const;
type KeyName = (typeof KEY_NAMES)[number];
/** How long a refresh holds the repository before another process may take it over (a crash). */
const LEASE_MS = 60_000;
const LEASE_WAIT_MS = 2 * LEASE_MS;
const PRUNE_INTERVAL_MS = 10 * 60_000;
/** Bins signed, then written per transaction, so a writer waiting for SQLite's lock waits for few rows. */
const BIN_WRITE_BATCH = 16;

export interface TufRefreshOutcome {
  timestampVersion: number;
  snapshotVersion: number;
  rootVersion: number;
  /** Files written by this refresh (`timestamp.json`, `12.snapshot.json`, …). */
  written: string[];
  /** Bins the layout has now (grows with the catalogue). */
  bins: number;
  /** How long the refresh took, waiting for the lease excluded. */
  seconds: number;
  warnings: string[];
}

/** What a client asks the repository; the HTTP routes and admin commands see only this. */
export interface TufService {
  refresh(): Promise<TufRefreshOutcome>;
  readMetadata(name: string): Promise<Buffer | null>;
  latestRoot(): Promise<{ bytes: Buffer; version: number }>;
  /** A change was committed: refresh soon (a no-op where refreshes only happen on demand). */
  changed(): void;
  close(): Promise<void>;
}

interface RoleRow {
  name: string;
  version: number;
  expires: string;
  detail: string;
}

/**
 * The index's TUF repository (PEP 458), kept in the database so every instance serves the same
 * metadata: targets are maintained by TufTargets inside the catalogue's transactions; `refresh()`
 * signs only the bins whose slots are marked, then a new snapshot and timestamp, and writes the
 * commit point (timestamp.json) last, in one transaction. Refreshes are serialised across
 * processes by a lease row; signing keys live in `<dataDir>/tuf/keys/`.
 */
export class TufRepository implements TufService {
  readonly keysDir: string;
  private state: TufRepositoryState | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private queued: Promise<TufRefreshOutcome> | null = null;
  private lastPrune = 0;
  private readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly options: {
      dataDir: string;
      db: Kysely<Database>;
      clock: () => Date;
      settings?: TufSettings;
      warn?: (message: string) => void;
      /** Told of every refresh this repository ran (the metrics record its duration). */
      onRefreshed?: (outcome: TufRefreshOutcome) => void;
    },
  ) {
    this.keysDir = options.settings?.keysDir ?? join(options.dataDir, 'tuf', 'keys');
  }

  private get settings(): TufSettings {
    return this.options.settings ?? DEFAULT_TUF_SETTINGS;
  }

  private get db(): Kysely<Database> {
    return this.options.db;
  }

  /** Offline-key reminders come up on every refresh; say each once a day, not per request. */
  private warnDaily(message: string): void {
    const last = this.warned.get(message);
    if (last !== undefined && Date.now() - last < 24 * 3600 * 1000) return;
    this.warned.set(message, Date.now());
    this.options.warn?.(message);
  }

  changed(): void {}

  async close(): Promise<void> {}

  /**
   * Brings the published metadata up to date. Callers arriving while a refresh waits to start
   * share it: it has not read the catalogue yet, so it sees whatever they committed.
   */
  refresh(): Promise<TufRefreshOutcome> {
    if (this.queued) return this.queued;
    // `running` never rejects (see below), so the next refresh starts whatever the last one did.
    const run = this.running.then(() => {
      this.queued = null;
      return this.withLease(() => this.refreshLeased());
    });
    this.queued = run;
    this.running = run.catch(() => undefined);
    return run;
  }

  /** A published metadata file, or null. Names are checked first: nothing else is ever looked up. */
  async readMetadata(name: string): Promise<Buffer | null> {
    if (!TUF_METADATA_NAME.test(name)) return null;
    const row = await this.db.selectFrom('tuf_metadata').select('bytes').where('name', '=', name).executeTakeFirst();
    return row ? Buffer.from(row.bytes) : null;
  }

  /** The latest root, after making sure the repository exists. */
  async latestRoot(): Promise<{ bytes: Buffer; version: number }> {
    if (!(await this.readMetadata('timestamp.json'))) await this.refresh();
    const bytes = await this.readMetadata('root.json');
    if (!bytes) throw new CairnError('internal.error', 'the TUF repository has no root.json');
    return { bytes, version: parseRootMetadata(bytes).signed.version };
  }

  private async refreshLeased(): Promise<TufRefreshOutcome> {
    const started = performance.now();
    const outcome = await this.refreshWork();
    outcome.seconds = (performance.now() - started) / 1000;
    this.options.onRefreshed?.(outcome);
    return outcome;
  }

  private async refreshWork(): Promise<TufRefreshOutcome> {
    const now = this.options.clock();
    const published = await this.db.selectFrom('tuf_state').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
    if (!this.state || this.state.timestamp.version !== published.timestamp_version) {
      // First use, or another process published since: the database is the truth.
      this.state = published.timestamp_version === 0 ? null : await this.loadState();
    }
    const keys = await this.loadKeyring(this.state === null);
    const minBits = Math.log2(this.settings.binCount);
    const dirty = await this.db.selectFrom('tuf_dirty_slots').select(['slot', 'generation']).execute();
    const state = this.state;
    const due = published.next_renewal === null || now.toISOString() >= published.next_renewal;
    if (state && dirty.length === 0 && !due && state.timestamp.keyId === keys.online.keyId && state.bins.bits >= minBits) {
      return this.outcome(state, [], []);
    }

    let bits = state ? Math.max(state.bins.bits, minBits) : await this.initialBits(minBits);
    let plan = planUpdate(state, { now, policy: this.settings.policy, bits, keys });
    bits = plan.bits;
    let toSign = this.binsToSign(plan, dirty.map((d) => d.slot));
    // A bin grown past its limit doubles the bins (or more), once per refresh, if the bins key is at hand.
    if (keys.bins && !plan.allBins) {
      const wanted = await this.bitsForLargestBin(bits, toSign);
      if (wanted > bits) {
        plan = planUpdate(state, { now, policy: this.settings.policy, bits: wanted, keys });
        toSign = this.binsToSign(plan, []);
      }
    }
    for (const warning of plan.warnings) this.warnDaily(warning);

    const signed: SignedBin[] = [];
    const written = new Set<string>();
    for (let i = 0; i < toSign.length; i += BIN_WRITE_BATCH) {
      const batch: SignedBin[] = [];
      for (const { bin, force } of toSign.slice(i, i + BIN_WRITE_BATCH)) batch.push(signBin(state, plan, bin.name, await this.targetsOfBin(bin), { force }));
      // Versioned files are invisible until a timestamp names them: written as they are made.
      const files = batch.flatMap((b) => (b.file ? [b.file] : []));
      if (files.length > 0) await this.db.transaction().execute((trx) => this.insertFiles(trx, files, now));
      for (const f of files) written.add(f.name);
      signed.push(...batch.map((b) => ({ ...b, file: b.file ? { name: b.file.name, bytes: Buffer.alloc(0) } : null })));
    }
    const result = finishUpdate(state, plan, signed);
    const remaining = result.files.filter((f) => !written.has(f.name));
    await this.db.transaction().execute(async (trx) => {
      await this.insertFiles(trx, remaining.filter((f) => f.name !== 'root.json' && f.name !== 'timestamp.json'), now);
      await this.supersede(trx, state, result.state, now);
      await this.saveRoles(trx, state, result.state);
      for (const pointer of remaining.filter((f) => f.name === 'root.json' || f.name === 'timestamp.json')) {
        await trx
          .insertInto('tuf_metadata')
          .values({ name: pointer.name, bytes: pointer.bytes, created_at: now.toISOString(), superseded_at: null })
          .onConflict((oc) => oc.column('name').doUpdateSet({ bytes: pointer.bytes, created_at: now.toISOString() }))
          .execute();
      }
      await trx
        .updateTable('tuf_state')
        .set({ next_renewal: nextRenewal(result.state, this.settings.policy), timestamp_version: result.state.timestamp.version })
        .where('id', '=', 1)
        .execute();
    });
    // Only the generation read is cleared: a slot marked again meanwhile waits for the next refresh.
    // One slot per statement, after the commit: writers mark slots in their own order inside
    // their transactions, and a refresh holding several slots while waiting for another could
    // deadlock with them (seen on PostgreSQL with an instance backfilling beside a refresh). A
    // crash before these deletes only makes the next refresh sign those bins again.
    for (const { slot, generation } of dirty) {
      await this.db.deleteFrom('tuf_dirty_slots').where('slot', '=', slot).where('generation', '=', generation).execute();
    }
    this.state = result.state;
    for (const f of remaining) written.add(f.name);
    if (written.size > 0 && Date.now() - this.lastPrune > PRUNE_INTERVAL_MS) {
      this.lastPrune = Date.now();
      await this.prune(now);
    }
    return this.outcome(result.state, [...written], plan.warnings);
  }

  private outcome(state: TufRepositoryState, written: string[], warnings: string[]): TufRefreshOutcome {
    return {
      timestampVersion: state.timestamp.version,
      snapshotVersion: state.snapshot.version,
      rootVersion: state.root.version,
      written,
      bins: 2 ** state.bins.bits,
      seconds: 0,
      warnings,
    };
  }

  /** Every bin of the layout, or the bins holding marked slots plus those due for renewal. */
  private binsToSign(plan: TufUpdatePlan, dirtySlots: readonly number[]): { bin: HashedBin; force: boolean }[] {
    const layout = hashedBinLayout(2 ** plan.bits);
    if (plan.allBins) return layout.bins.map((bin) => ({ bin, force: true }));
    const renew = new Set(plan.renewBins);
    const chosen = new Map<number, boolean>();
    for (const slot of dirtySlots) chosen.set(binIndexOfSlot(plan.bits, slot), false);
    for (const bin of layout.bins) if (renew.has(bin.name)) chosen.set(bin.index, true);
    return [...chosen].sort(([a], [b]) => a - b).map(([index, force]) => ({ bin: layout.bins[index]!, force }));
  }

  /** A new repository starts with enough bins for what the catalogue already holds. */
  private async initialBits(minBits: number): Promise<number> {
    const row = await this.db.selectFrom('tuf_targets').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return bitsFor(Number(row.n), minBits, this.settings.maxTargetsPerBin);
  }

  /** The layout the largest of these bins asks for, estimating the catalogue from the bins at hand. */
  private async bitsForLargestBin(bits: number, bins: readonly { bin: HashedBin }[]): Promise<number> {
    let largest = 0;
    for (const { bin } of bins) {
      const row = await this.db
        .selectFrom('tuf_targets')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('slot', '>=', bin.firstSlot)
        .where('slot', '<=', bin.lastSlot)
        .executeTakeFirstOrThrow();
      largest = Math.max(largest, Number(row.n));
    }
    if (largest <= this.settings.maxTargetsPerBin) return bits;
    return bitsFor(largest * 2 ** bits, bits, this.settings.maxTargetsPerBin);
  }

  private async targetsOfBin(bin: HashedBin): Promise<TargetEntry[]> {
    const rows = await this.db
      .selectFrom('tuf_targets')
      .select(['path', 'length', 'sha256', 'custom'])
      .where('slot', '>=', bin.firstSlot)
      .where('slot', '<=', bin.lastSlot)
      .execute();
    // Sorted here, not by the database: collations differ between engines, the digest must not.
    rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return rows.map((r) => ({ path: r.path, length: Number(r.length), sha256: r.sha256, custom: r.custom ? (JSON.parse(r.custom) as Record<string, unknown>) : null }));
  }

  private async insertFiles(trx: Kysely<Database>, files: readonly TufMetadataFile[], now: Date): Promise<void> {
    for (const file of files) {
      // A name is one content forever (consistent snapshots); a crashed refresh may have written it already.
      await trx
        .insertInto('tuf_metadata')
        .values({ name: file.name, bytes: file.bytes, created_at: now.toISOString(), superseded_at: null })
        .onConflict((oc) => oc.column('name').doUpdateSet({ bytes: file.bytes, created_at: now.toISOString() }))
        .execute();
    }
  }

  /** The previous version of each re-signed role stops being current now; prune removes it after the retention. */
  private async supersede(trx: Kysely<Database>, before: TufRepositoryState | null, after: TufRepositoryState, now: Date): Promise<void> {
    if (!before) return;
    const names: string[] = [];
    for (const [role, was, is] of [
      ['targets', before.targets.version, after.targets.version],
      [BINS_ROLE, before.bins.version, after.bins.version],
      ['snapshot', before.snapshot.version, after.snapshot.version],
    ] as const) {
      if (was !== is) names.push(`${was}.${role}.json`);
    }
    for (const [name, record] of after.binRoles) {
      const was = before.binRoles.get(name);
      if (was && was.version !== record.version) names.push(`${was.version}.${name}.json`);
    }
    for (let i = 0; i < names.length; i += 500) {
      await trx.updateTable('tuf_metadata').set({ superseded_at: now.toISOString() }).where('name', 'in', names.slice(i, i + 500)).execute();
    }
  }

  private async saveRoles(trx: Kysely<Database>, before: TufRepositoryState | null, after: TufRepositoryState): Promise<void> {
    const rows: RoleRow[] = [];
    const row = (name: string, role: PublishedRole, detail: Record<string, unknown>) =>
      rows.push({ name, version: role.version, expires: role.expires, detail: JSON.stringify({ keyId: role.keyId, ...detail }) });
    const changed = (was: PublishedRole | undefined, is: PublishedRole) => !was || was.version !== is.version || was.expires !== is.expires;
    if (changed(before?.root, after.root)) row('root', after.root, { roleKeys: after.root.roleKeys });
    if (changed(before?.targets, after.targets)) row('targets', after.targets, { binsKey: after.targets.binsKey });
    if (changed(before?.bins, after.bins)) row(BINS_ROLE, after.bins, { bits: after.bins.bits, binKey: after.bins.binKey });
    if (changed(before?.snapshot, after.snapshot)) row('snapshot', after.snapshot, { pin: after.snapshot.pin });
    if (changed(before?.timestamp, after.timestamp)) row('timestamp', after.timestamp, {});
    for (const [name, record] of after.binRoles) {
      if (changed(before?.binRoles.get(name), record)) row(name, record, { contentSha256: record.contentSha256 });
    }
    for (let i = 0; i < rows.length; i += 200) {
      await trx
        .insertInto('tuf_roles')
        .values(rows.slice(i, i + 200))
        .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ version: eb.ref('excluded.version'), expires: eb.ref('excluded.expires'), detail: eb.ref('excluded.detail') })))
        .execute();
    }
  }

  private async loadState(): Promise<TufRepositoryState> {
    const rows = await this.db.selectFrom('tuf_roles').selectAll().execute();
    const byName = new Map(rows.map((r) => [r.name, r]));
    const need = <T extends PublishedRole>(name: string): T => {
      const row = byName.get(name);
      if (!row) throw new CairnError('internal.error', `the TUF repository in the database is incomplete: no ${name} role (restore it from a backup)`);
      const detail = JSON.parse(row.detail) as Record<string, unknown>;
      return { ...detail, version: row.version, expires: row.expires, keyId: detail.keyId as string } as unknown as T;
    };
    const binRoles = new Map<string, PublishedRole & { contentSha256: string }>();
    for (const row of rows) {
      if (!row.name.startsWith('bin-')) continue;
      const detail = JSON.parse(row.detail) as { keyId: string; contentSha256: string };
      binRoles.set(row.name, { version: row.version, expires: row.expires, keyId: detail.keyId, contentSha256: detail.contentSha256 });
    }
    return {
      root: need<TufRepositoryState['root']>('root'),
      targets: need<TufRepositoryState['targets']>('targets'),
      bins: need<TufRepositoryState['bins']>(BINS_ROLE),
      binRoles,
      snapshot: need<TufRepositoryState['snapshot']>('snapshot'),
      timestamp: need<PublishedRole>('timestamp'),
    };
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
        await writeFileAtomically(path, Buffer.from(`${JSON.stringify(storedTufKey(key), null, 2)}\n`), 0o600);
        found[name] = key;
      }
    }
    return { root: found.root, targets: found.targets, bins: found.bins, online: found.online! };
  }

  /**
   * One refresh at a time across processes and instances: a lease row in the database, taken
   * over if its holder has not renewed it for a minute (it crashed).
   */
  private async withLease<T>(run: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + LEASE_WAIT_MS;
    for (;;) {
      const now = Date.now();
      const taken = await this.db
        .updateTable('tuf_state')
        .set({ lock_owner: this.owner, lock_expires: new Date(now + LEASE_MS).toISOString() })
        .where('id', '=', 1)
        .where((eb) => eb.or([eb('lock_owner', 'is', null), eb('lock_expires', '<', new Date(now).toISOString()), eb('lock_owner', '=', this.owner)]))
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 1) break;
      if (now > deadline) throw new CairnError('internal.error', 'the TUF repository is held by another process that does not finish');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const renew = setInterval(() => {
      void this.db
        .updateTable('tuf_state')
        .set({ lock_expires: new Date(Date.now() + LEASE_MS).toISOString() })
        .where('id', '=', 1)
        .where('lock_owner', '=', this.owner)
        .execute()
        .catch(() => undefined);
    }, LEASE_MS / 4);
    renew.unref();
    try {
      return await run();
    } finally {
      clearInterval(renew);
      await this.db.updateTable('tuf_state').set({ lock_owner: null, lock_expires: null }).where('id', '=', 1).where('lock_owner', '=', this.owner).execute();
    }
  }

  /**
   * Deletes versions superseded more than `retentionSeconds` ago (PEP 458, "Cleaning up old
   * metadata"). Root versions are never deleted: a client with any old root must walk forward.
   */
  private async prune(now: Date): Promise<void> {
    const cutoff = new Date(now.getTime() - this.settings.retentionSeconds * 1000).toISOString();
    await this.db
      .deleteFrom('tuf_metadata')
      .where('superseded_at', 'is not', null)
      .where('superseded_at', '<', cutoff)
      .where('name', 'not like', '%.root.json')
      .execute();
  }
}

/** Bits for `targets` targets: at least `minBits`, and about half the limit per bin after growing. */
export function bitsFor(targets: number, minBits: number, maxPerBin: number): number {
  const wanted = Math.ceil(Math.log2(Math.max(1, (targets * 2) / maxPerBin)));
  return Math.min(MAX_BIN_BITS, Math.max(minBits, wanted));
}

/** When the next published role is due for renewal: before then, a refresh with no change does nothing. */
function nextRenewal(state: TufRepositoryState, policy: TufExpiryPolicy): string {
  const half = (expires: string, lifetime: number) => new Date(expires).getTime() - (lifetime * 1000) / 2;
  let next = Math.min(
    half(state.root.expires, policy.root),
    half(state.targets.expires, policy.targets),
    half(state.bins.expires, policy.bins),
    half(state.snapshot.expires, policy.snapshot),
    half(state.timestamp.expires, policy.timestamp),
  );
  for (const bin of hashedBinLayout(2 ** state.bins.bits).bins) {
    const record = state.binRoles.get(bin.name);
    if (record) next = Math.min(next, half(record.expires, policy.binN));
  }
  return new Date(next).toISOString();
}

/** Temp file, fsync, rename: a crash never leaves half a key. */
async function writeFileAtomically(path: string, bytes: Buffer, mode: number): Promise<void> {
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
