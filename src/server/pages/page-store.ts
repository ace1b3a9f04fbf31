import { createHash } from 'node:crypto';
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzip, gunzipSync } from 'node:zlib';
import type { Kysely, Selectable } from 'kysely';
import { deflateSegment, gzipFromSegments, inflateSegmentAsync, type DeflateSegment } from '../../formats/gzip-segments.ts';
import { INDEX_HTML_TAIL, renderIndexHtmlHead, SIMPLE_API_VERSION } from '../../formats/simple-api.ts';
import type { PageReader, RenderedPageRow } from '../storage/database.ts';
import type { Database, PageKind, RootChunksTable } from '../storage/schema.ts';
import { PageSlabCache } from './page-slab-cache.ts';

/** A stored page: gzip bytes, and the digest and length of what they decompress to. */
export interface StoredPage {
  sha256: string;
  length: number;
  gzip: Buffer;
}

/** The `/simple/` root in one format, as buffers to write out in order. */
export interface RootDocument {
  /** sha256 over the chunks' digests: changes whenever any chunk does. */
  etag: string;
  gzip: Buffer[];
  gzipLength: number;
  identity: Buffer[];
  identityLength: number;
}

export interface PageStoreOptions {
  /** Memory for cached pages, in bytes. */
  cacheBytes: number;
  /** How often the journal of page changes is read, for changes other processes made. */
  pollMs: number;
  /**
   * A flood: more projects than this changed within about `floodWindowMs` (a bulk import; no
   * stream of uploads comes near). Changed pages are not read ahead during one; the cache is
   * warmed once it has passed (six windows after the rate was last above the threshold).
   */
  floodProjects?: number;
  floodWindowMs?: number;
}

export const DEFAULT_PAGE_STORE_OPTIONS: PageStoreOptions = { cacheBytes: 384 * 1024 * 1024, pollMs: 250 };

/**
 * 50 projects a second for five seconds: ten times PyPI's busiest uploads, a sixth of what
 * `cairn admin import` writes on two cores (250–300 projects a second, less on a busy machine).
 */
const DEFAULT_FLOOD_PROJECTS = 250;
const DEFAULT_FLOOD_WINDOW_MS = 5000;
/**
 * A flood has passed when the recent rate of changes has fallen to this share of its threshold
 * and stayed under the threshold for this many windows: an import into PostgreSQL pauses between
 * its batches, and a warming started in such a pause (at 1M files, 590 s into the import) ran
 * into the next batch.
 */
const FLOOD_PASSED = 0.25;
const FLOOD_QUIET_WINDOWS = 6;

const gunzipAsync = promisify(gunzip);
const SYNC_GUNZIP_LIMIT = 64 * 1024;
/**
 * Journal ids are assigned when a transaction inserts its row but become visible when it commits,
 * which on PostgreSQL is not always in id order: each poll re-reads this many ids below the highest
 * seen, remembering which it handled.
 */
const JOURNAL_WINDOW = 1000;
/** Journal rows a poll reads per query before it lets requests in. */
const JOURNAL_ROWS_PER_QUERY = 500;
/** Warming and prefetching fill the cache to this share of its budget, leaving room for what clients ask. */
const WARM_FILL = 0.9;
/** Root chunks (1,000 projects each) per query while the root is loaded. */
const ROOT_CHUNKS_PER_QUERY = 20;
/** Projects per prefetch query. */
const PREFETCH_NAMES = 125;

/** A database read of one key (or, `key` null, of many) and the keys evicted while it was in flight. */
interface ReadInFlight {
  key: string | null;
  evicted: Set<string>;
}

interface RootChunkSegments {
  sha256: string;
  html: DeflateSegment & { identity: Buffer };
  json: DeflateSegment & { identity: Buffer };
  projects: number;
}

/**
 * The read side of the pages rendered on write: a byte-budgeted cache (page-slab-cache.ts) in front of one indexed
 * lookup, kept coherent with other processes by polling the `page_changes` journal. A read is a
 * cache hit or one query, never a rebuild.
 */
export class PageStore {
  /** Pages, and pages known not to exist (so a flood of requests for a missing project costs no queries). */
  private readonly cache: PageSlabCache;
  private readonly identities = new Map<string, Buffer>();
  /** Database reads in flight, each collecting the evictions that veto caching what it read (see `remember`). */
  private readonly readsInFlight = new Set<ReadInFlight>();

  private rootChunks: Map<number, RootChunkSegments> | null = null;
  private rootLoading: Promise<Map<number, RootChunkSegments>> | null = null;
  private readonly staleChunks = new Set<number>();
  private roots: { html: RootDocument; json: RootDocument } | null = null;

  private journalHigh = 0;
  private readonly journalSeen = new Set<number>();
  /** Projects changed recently, decaying over the flood window; and whether a flood is under way. */
  private recentChanges = 0;
  private recentChangesAt = 0;
  private flooded = false;
  private floodSeenAt = 0;
  private warming: Promise<number> | null = null;
  private poller: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  private readonly readPage: PageReader;

  /** `readPage` reads a page the cache lacks; by default through the query builder. */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: PageStoreOptions = DEFAULT_PAGE_STORE_OPTIONS,
    readPage?: PageReader,
  ) {
    this.cache = new PageSlabCache(options.cacheBytes);
    this.readPage =
      readPage ??
      ((normalizedName, kind) =>
        db.selectFrom('rendered_pages').select(['sha256', 'length', 'gzip']).where('normalized_name', '=', normalizedName).where('kind', '=', kind).executeTakeFirst());
  }

  /**
   * What the cache holds for a page, without waiting: the page, null (known not to exist), or
   * undefined (not cached; ask projectPage).
   */
  cachedPage(normalizedName: string, kind: PageKind): StoredPage | null | undefined {
    return this.cache.get(`${kind}:${normalizedName}`);
  }

  /** A project's page, or null when the project (or that page of it) does not exist. */
  async projectPage(normalizedName: string, kind: PageKind): Promise<StoredPage | null> {
    const key = `${kind}:${normalizedName}`;
    const cached = this.cachedPage(normalizedName, kind);
    if (cached !== undefined) return cached;
    return this.readThenCache(
      key,
      async () => {
        const row = await this.readPage(normalizedName, kind);
        // The row's buffer serves this answer; the cache keeps a copy in its slabs.
        return row ? { sha256: row.sha256, length: Number(row.length), gzip: asBuffer(row.gzip) } : null;
      },
      (page, evicted) => this.remember(key, page, evicted),
    );
  }

  /** The uncompressed bytes of a page (for clients that do not accept gzip), cached beside it. */
  async identityOf(page: StoredPage): Promise<Buffer> {
    const known = this.identities.get(page.sha256);
    if (known) return known;
    const bytes = page.gzip.length <= SYNC_GUNZIP_LIMIT ? gunzipSync(page.gzip) : await gunzipAsync(page.gzip);
    // Identity requests are rare (pip and browsers send Accept-Encoding: gzip); keep a few.
    if (this.identities.size >= 256) this.identities.delete(this.identities.keys().next().value!);
    this.identities.set(page.sha256, bytes);
    return bytes;
  }

  /**
   * A simple page by its digest: the current one, or one superseded recently (TUF consistent
   * snapshots name pages by hash, and a client may hold metadata a moment older than the page).
   */
  async pageByDigest(normalizedName: string, kind: PageKind, sha256: string): Promise<StoredPage | null> {
    const current = await this.projectPage(normalizedName, kind);
    if (current?.sha256 === sha256) return current;
    const row = await this.db
      .selectFrom('superseded_pages')
      .select(['sha256', 'length', 'gzip'])
      .where('sha256', '=', sha256)
      .where('normalized_name', '=', normalizedName)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row ? { sha256: row.sha256, length: Number(row.length), gzip: asBuffer(row.gzip) } : null;
  }

  /** The `/simple/` root: head, every chunk in id order, tail; assembled from memory after the first load. */
  async root(): Promise<{ html: RootDocument; json: RootDocument }> {
    if (this.roots && this.staleChunks.size === 0) return this.roots;
    const chunks = await this.loadRootChunks();
    if (this.roots && this.staleChunks.size === 0) return this.roots;
    this.roots = assembleRoots(chunks);
    return this.roots;
  }

  /**
   * Reads the root's chunks (all of them the first time, then the stale ones) a few per query,
   * letting requests in between: at 1M files the first load read 200 chunks in one query and held
   * the event loop 52 ms. Chunks are independent (a project never changes chunk), so reading them
   * in steps is as consistent as one query: a chunk changed after it was read is journaled and
   * read again.
   */
  private async loadRootChunks(): Promise<Map<number, RootChunkSegments>> {
    if (this.rootLoading) return this.rootLoading;
    const load = async (): Promise<Map<number, RootChunkSegments>> => {
      const chunks = this.rootChunks ?? new Map<number, RootChunkSegments>();
      const stale = this.rootChunks ? [...this.staleChunks].sort((a, b) => a - b) : null;
      this.staleChunks.clear();
      let after = -1;
      for (let step = 0; ; step++) {
        if (step > 0) await yieldToRequests();
        let query = this.db.selectFrom('root_chunks').selectAll().orderBy('chunk').limit(ROOT_CHUNKS_PER_QUERY);
        if (stale === null) query = query.where('chunk', '>', after);
        else {
          const some = stale.slice(step * ROOT_CHUNKS_PER_QUERY, (step + 1) * ROOT_CHUNKS_PER_QUERY);
          if (some.length === 0) break;
          query = query.where('chunk', 'in', some);
          for (const chunk of some) chunks.delete(chunk);
        }
        const rows = await query.execute();
        for (const { chunk, segments } of await Promise.all(rows.map(rootChunkSegments))) chunks.set(chunk, segments);
        if (stale === null && rows.length < ROOT_CHUNKS_PER_QUERY) break;
        if (rows.length > 0) after = rows[rows.length - 1]!.chunk;
      }
      this.rootChunks = chunks;
      return chunks;
    };
    this.rootLoading = load().finally(() => {
      this.rootLoading = null;
    });
    return this.rootLoading;
  }

  /** Drops what this process cached of a project's pages (after a commit changed them). */
  evictProject(normalizedName: string): void {
    for (const kind of ['simple-html', 'simple-json', 'json-api'] as const) this.evict(`${kind}:${normalizedName}`);
  }

  /** Marks a root chunk to be read again. */
  evictRootChunk(chunk: number): void {
    this.staleChunks.add(chunk);
    this.roots = null;
  }

  private evict(key: string): void {
    for (const read of this.readsInFlight) if (read.key === null || read.key === key) read.evicted.add(key);
    this.cache.delete(key);
  }

  /**
   * Runs a database read of `key` (or, with null, of many keys) and hands what it found to `cache`
   * with the keys evicted while it was in flight, before the next eviction can happen. Only reads in
   * flight hear of evictions: remembering every eviction for a while instead (as this store once
   * did, for 60 s) kept ~3 entries per project an import announced, 27 MB of objects at 300k files
   * that lived just long enough to reach the old generation and bring on its full collections.
   */
  private async readThenCache<T>(key: string | null, read: () => Promise<T>, cache: (found: T, evicted: ReadonlySet<string>) => void): Promise<T> {
    const inFlight: ReadInFlight = { key, evicted: new Set() };
    this.readsInFlight.add(inFlight);
    try {
      const found = await read();
      cache(found, inFlight.evicted);
      return found;
    } finally {
      this.readsInFlight.delete(inFlight);
    }
  }

  /**
   * Caches what a read found, unless the key was evicted while the read was in flight: the read
   * may then have seen the state before the change that evicted it.
   */
  private remember(key: string, page: StoredPage | null, evicted: ReadonlySet<string>): void {
    if (evicted.has(key)) return;
    this.cache.set(key, page);
  }

  /**
   * Fills the cache with simple pages, both formats of each project in name order, until it holds
   * most of its budget: a freshly started instance then answers from memory instead of sending a
   * storm of misses to the database (at 1M files on PostgreSQL, uniform random reads of a cold
   * cache ran at 0.17× node:http). Batches yield to requests between them; a page changed while
   * its batch was read is not cached (the same veto as any read). Runs while the journal is
   * followed (`startPolling` until `stopPolling`) and no flood of changes is under way (a
   * bulk import; warming starts again when it has passed): a cache nobody keeps coherent is not
   * filled. Returns the pages cached.
   */
  async warm(options: { batch?: number; fill?: number } = {}): Promise<number> {
    const batch = Math.max(2, options.batch ?? 250);
    const target = this.options.cacheBytes * (options.fill ?? WARM_FILL);
    let after = '';
    let cached = 0;
    while (this.poller !== null && !this.flooded && this.cache.stats().bytes < target) {
      const rows = await this.readThenCache(
        null,
        () =>
          this.db
            .selectFrom('rendered_pages')
            .select(['normalized_name', 'kind', 'sha256', 'length', 'gzip'])
            .where('normalized_name', '>', after)
            .where('kind', 'in', ['simple-json', 'simple-html'])
            .orderBy('normalized_name')
            .orderBy('kind')
            .limit(batch)
            .execute(),
        (found, evicted) => (cached += this.cacheRows(found, evicted)),
      );
      if (rows.length === 0) break;
      // The last project of a full batch may have had only one format in it: read it again.
      const last = rows[rows.length - 1]!.normalized_name;
      if (rows.length < batch) break;
      const previous = rows[rows.length - 2]!.normalized_name;
      after = previous === last ? last : previous;
      await yieldToRequests();
    }
    return cached;
  }

  /** Caches the rows not cached yet, unless their key is among those `evicted` while they were read. How many it cached. */
  private cacheRows(rows: readonly (RenderedPageRow & { normalized_name: string; kind: PageKind })[], evicted: ReadonlySet<string>): number {
    let cached = 0;
    for (const row of rows) {
      const key = `${row.kind}:${row.normalized_name}`;
      if (this.cache.get(key, false) !== undefined) continue;
      this.remember(key, { sha256: row.sha256, length: Number(row.length), gzip: asBuffer(row.gzip) }, evicted);
      cached++;
    }
    return cached;
  }

  /**
   * Reads the simple pages of projects that just changed, while the cache has room: every
   * instance holds a project's new pages before anyone asks for them. Not during a flood (see
   * `noteChanges`): a bulk import into a running index ends with a warming instead. Yields to requests
   * between queries: better-sqlite3 answers synchronously, and awaiting its result only yields to
   * microtasks, so the 4,000 projects one import batch announces were read in one stall.
   */
  private async prefetch(names: readonly string[]): Promise<void> {
    for (let i = 0; i < names.length && this.cache.stats().bytes < this.options.cacheBytes * WARM_FILL; i += PREFETCH_NAMES) {
      if (i > 0) await yieldToRequests();
      await this.readThenCache(
        null,
        () =>
          this.db
            .selectFrom('rendered_pages')
            .select(['normalized_name', 'kind', 'sha256', 'length', 'gzip'])
            .where('normalized_name', 'in', names.slice(i, i + PREFETCH_NAMES))
            .where('kind', 'in', ['simple-json', 'simple-html'])
            .execute(),
        (found, evicted) => this.cacheRows(found, evicted),
      );
    }
  }

  /** Follows the journal from its current end: changes other processes commit from now on are seen within one poll. */
  async startPolling(): Promise<void> {
    if (this.poller) return;
    const row = await this.db.selectFrom('page_changes').select((eb) => eb.fn.max('id').as('high')).executeTakeFirst();
    this.journalHigh = Number(row?.high ?? 0);
    // What the window already holds was committed before this cache held anything: seen. Left
    // unseen, every poll would ask for those ids again.
    const known = await this.db.selectFrom('page_changes').select('id').where('id', '>', this.journalHigh - JOURNAL_WINDOW).execute();
    for (const { id } of known) this.journalSeen.add(id);
    this.poller = setInterval(() => {
      if (this.polling) return;
      this.polling = this.pollJournal()
        .then(() => undefined, () => undefined)
        .finally(() => {
          this.polling = null;
        });
    }, this.options.pollMs);
    this.poller.unref();
  }

  stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
  }

  /**
   * One read of the journal: every change not handled yet evicts what it names. It asks for ids
   * above the highest seen, and for the ids of the window below it not seen yet (a transaction that
   * took its id earlier but committed later, or one rolled back): reading the whole window at each
   * poll cost a thousand rows four times a second. It reads at most `JOURNAL_ROWS_PER_QUERY` rows
   * a query and lets requests in between: one import batch announces thousands of projects, and
   * reading and evicting them in one stretch held the event loop ~50 ms (on SQLite the query
   * itself answers synchronously).
   */
  async pollJournal(): Promise<number> {
    let handled = 0;
    // Late commits below the highest id are asked for once, in the first query.
    let unseen: number[] = [];
    for (let id = Math.max(1, this.journalHigh - JOURNAL_WINDOW + 1); id <= this.journalHigh; id++) if (!this.journalSeen.has(id)) unseen.push(id);
    for (;;) {
      const high = this.journalHigh;
      const below = unseen;
      const rows = await this.db
        .selectFrom('page_changes')
        .select(['id', 'normalized_name', 'chunk'])
        .where((eb) => (below.length === 0 ? eb('id', '>', high) : eb.or([eb('id', '>', high), eb('id', 'in', below)])))
        .orderBy('id')
        .limit(JOURNAL_ROWS_PER_QUERY)
        .execute();
      unseen = [];
      const changed = new Set<string>();
      for (const row of rows) {
        if (this.journalSeen.has(row.id)) continue;
        this.journalSeen.add(row.id);
        handled++;
        if (row.normalized_name !== null) {
          this.evictProject(row.normalized_name);
          changed.add(row.normalized_name);
        }
        if (row.chunk !== null) this.evictRootChunk(row.chunk);
        if (row.id > this.journalHigh) this.journalHigh = row.id;
      }
      for (const id of this.journalSeen) if (id <= this.journalHigh - JOURNAL_WINDOW) this.journalSeen.delete(id);
      if (changed.size > 0 && !this.noteChanges(changed.size)) await this.prefetch([...changed]);
      if (rows.length < JOURNAL_ROWS_PER_QUERY) break;
      await yieldToRequests();
    }
    // A poll with nothing new still lets the rate decay: the one that finds the flood passed warms.
    if (this.flooded && !this.noteChanges(0)) this.startWarming();
    return handled;
  }

  /**
   * Counts changed projects into a rate that decays over the flood window, and says whether a
   * flood is under way: it starts when the rate passes `floodProjects` per window and ends when
   * it has fallen to a quarter of that, six windows after it was last above it. During a bulk
   * import the read-ahead read every imported project's pages while the import kept both cores
   * busy: on PostgreSQL its rows (bytea as hex text) were 30% of all the server allocated, and its
   * young collections, 3–10 MB surviving each on cores shared with the import, paused the server
   * for 20–73 ms.
   */
  private noteChanges(projects: number): boolean {
    const threshold = this.options.floodProjects ?? DEFAULT_FLOOD_PROJECTS;
    const now = performance.now();
    const window = this.options.floodWindowMs ?? DEFAULT_FLOOD_WINDOW_MS;
    const decay = Math.exp(-(now - this.recentChangesAt) / window);
    this.recentChanges = this.recentChanges * decay + projects;
    this.recentChangesAt = now;
    if (this.recentChanges > threshold) {
      this.flooded = true;
      this.floodSeenAt = now;
    } else if (this.recentChanges < threshold * FLOOD_PASSED && now - this.floodSeenAt > window * FLOOD_QUIET_WINDOWS) {
      this.flooded = false;
    }
    return this.flooded;
  }

  /** Warms the cache in the background, unless a warming is running: after a flood, what it would have read ahead. */
  private startWarming(): void {
    if (this.warming) return;
    this.warming = this.warm()
      .catch(() => 0)
      .finally(() => {
        this.warming = null;
      });
  }

  /** Whether a flood of changes is under way (no read-ahead, no warming). */
  get flooding(): boolean {
    return this.flooded;
  }

  /** The warming started after a flood, if one is running. */
  warmingDone(): Promise<number> {
    return this.warming ?? Promise.resolve(0);
  }

  /** Cache occupancy, for `/metrics`. */
  stats(): { entries: number; bytes: number } {
    const { entries, bytes } = this.cache.stats();
    return { entries, bytes };
  }
}

/** The bytes as a Buffer, without copying them (a short-lived answer, not a cached page). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Bytes kept for long (a root chunk) in memory of their own: a small Buffer.from copy is a slice
 * of a shared 8 KiB pool slab, which stays alive while any slice of it does.
 */
function ownedCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  copy.set(bytes);
  return copy;
}

/**
 * A stored chunk in memory, with its plain text (for clients without gzip) inflated on libuv's
 * threads: at 1M files the chunks inflate to 27 MB, too much for one synchronous loop.
 */
async function rootChunkSegments(row: Selectable<RootChunksTable>): Promise<{ chunk: number; segments: RootChunkSegments }> {
  const html = ownedCopy(row.html_deflate);
  const json = ownedCopy(row.json_deflate);
  const [htmlIdentity, jsonIdentity] = await Promise.all([inflateSegmentAsync(html), inflateSegmentAsync(json)]);
  return {
    chunk: row.chunk,
    segments: {
      sha256: row.sha256,
      projects: row.projects,
      html: { deflate: html, crc32: Number(row.html_crc32), length: row.html_length, identity: htmlIdentity },
      json: { deflate: json, crc32: Number(row.json_crc32), length: row.json_length, identity: jsonIdentity },
    },
  };
}

function fixedSegment(text: string): DeflateSegment & { identity: Buffer } {
  return { ...deflateSegment(text), identity: Buffer.from(text, 'utf8') };
}

const HTML_HEAD = fixedSegment(renderIndexHtmlHead());
const HTML_TAIL = fixedSegment(INDEX_HTML_TAIL);
const JSON_HEAD = fixedSegment(`{"meta":{"api-version":"${SIMPLE_API_VERSION}"},"projects":[`);
const JSON_TAIL = fixedSegment(']}');
const JSON_SEPARATOR = fixedSegment(',');

function documentOf(segments: (DeflateSegment & { identity: Buffer })[], etag: string): RootDocument {
  const gzip = gzipFromSegments(segments);
  const identity = segments.map((s) => s.identity);
  return {
    etag,
    gzip,
    gzipLength: gzip.reduce((n, b) => n + b.length, 0),
    identity,
    identityLength: identity.reduce((n, b) => n + b.length, 0),
  };
}

/** O(chunks) assembly from segments already in memory: no project is rendered or compressed here. */
function assembleRoots(chunks: Map<number, RootChunkSegments>): { html: RootDocument; json: RootDocument } {
  const ordered = [...chunks.entries()].sort(([a], [b]) => a - b).map(([, c]) => c).filter((c) => c.projects > 0);
  const digest = createHash('sha256').update(SIMPLE_API_VERSION);
  for (const chunk of ordered) digest.update(chunk.sha256);
  const etag = digest.digest('hex').slice(0, 32);
  const html = [HTML_HEAD, ...ordered.map((c) => c.html), HTML_TAIL];
  const json: (DeflateSegment & { identity: Buffer })[] = [JSON_HEAD];
  ordered.forEach((c, i) => {
    if (i > 0) json.push(JSON_SEPARATOR);
    json.push(c.json);
  });
  json.push(JSON_TAIL);
  return { html: documentOf(html, `${etag}-h`), json: documentOf(json, `${etag}-j`) };
}
