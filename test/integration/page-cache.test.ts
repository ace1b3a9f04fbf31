import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { deflateSegment } from '../../src/formats/gzip-segments.ts';
import { PageStore } from '../../src/server/pages/page-store.ts';
import { openDatabase, type OpenedDatabase } from '../../src/server/storage/database.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { testEngines } from '../support/server.ts';

/**
 * The page cache in front of `rendered_pages`: byte-bounded, evicting the oldest pages first but
 * giving a page read since it was cached a second chance (page-slab-cache.ts), so that a hit costs
 * no reordering and the pages clients keep asking for stay in memory.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-page-cache-'));
after(() => rmSync(work, { recursive: true, force: true }));

for (const { engine, skip } of await testEngines()) describe(`page cache (${engine})`, { skip }, () => {
  let opened: OpenedDatabase;
  let database: { url: string; drop(): Promise<void> } | null = null;
  const body = Buffer.alloc(1000, 'x');
  before(async () => {
    database = engine === 'postgres' ? await createTestDatabase() : null;
    opened = await openDatabase(database?.url ?? `sqlite:${join(work, 'cache.sqlite')}`);
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
      await opened.db
        .insertInto('rendered_pages')
        .values({ normalized_name: name, kind: 'simple-json', sha256: name.repeat(64), length: body.length, gzip: gzipSync(body), rendered_at: new Date().toISOString() })
        .execute();
    }
  });
  after(async () => {
    await opened?.close();
    await database?.drop();
  });

  test('reads a page from the database once, and serves it from memory after', async () => {
    const store = new PageStore(opened.db, undefined, opened.readPage);
    const page = (await store.projectPage('a', 'simple-json'))!;
    assert.deepEqual(page.gzip, gzipSync(body));
    assert.equal(page.sha256, 'a'.repeat(64));
    const cached = store.cachedPage('a', 'simple-json')!;
    assert.deepEqual([cached.sha256, cached.length, cached.gzip], [page.sha256, page.length, page.gzip]);
    assert.deepEqual(store.stats().entries, 1);
  });

  test('keeps within its byte budget while pages stream through; a page read between insertions is never evicted', async () => {
    const reads: string[] = [];
    const readPage = async (name: string) => {
      reads.push(name);
      return { sha256: createHash('sha256').update(name).digest('hex'), length: 2100, gzip: randomBytes(700) };
    };
    const budget = 256 * 1024;
    const store = new PageStore(opened.db, { cacheBytes: budget, pollMs: 1000 }, readPage);
    const hot = ['hot-1', 'hot-2', 'hot-3'];
    for (const name of hot) assert.ok(await store.projectPage(name, 'simple-json'));
    // Thousands of one-off pages, each costing more than the whole budget over the run.
    for (let i = 0; i < 5000; i++) {
      for (const name of hot) assert.ok(store.cachedPage(name, 'simple-json'), `${name} is still cached after ${i} insertions`);
      await store.projectPage(`cold-${i}`, 'simple-json');
      assert.ok(store.stats().bytes <= budget, `${store.stats().bytes} bytes within ${budget}`);
    }
    for (const name of hot) assert.equal(reads.filter((read) => read === name).length, 1, `${name} was read from the database once`);
    assert.ok(store.stats().entries > 100, `${store.stats().entries} pages fit`);
    // The newest cold pages are cached; an old one is read again.
    assert.ok(store.cachedPage('cold-4999', 'simple-json'));
    assert.equal(store.cachedPage('cold-0', 'simple-json'), undefined);
  });

  test('warming fills the cache with both simple formats of every project, up to its budget, only while it follows the journal', async () => {
    const now = new Date().toISOString();
    const html = (name: string) => Buffer.from(`<a>${name}</a>`.repeat(40));
    for (const name of ['w-1', 'w-2', 'w-3', 'w-4', 'w-5']) {
      for (const kind of ['simple-json', 'simple-html', 'json-api'] as const) {
        const sha256 = createHash('sha256').update(`${name} ${kind}`).digest('hex');
        await opened.db.insertInto('rendered_pages').values({ normalized_name: name, kind, sha256, length: 480, gzip: gzipSync(html(name)), rendered_at: now }).execute();
      }
    }
    const idle = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 1000 }, opened.readPage);
    assert.equal(await idle.warm(), 0, 'a cache that does not follow the journal is not filled');

    const store = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 60_000 }, opened.readPage);
    await store.startPolling();
    try {
      // Batches of three rows split projects between batches: each is still read whole.
      assert.equal(await store.warm({ batch: 3 }), 6 + 10);
      for (const name of ['w-1', 'w-2', 'w-3', 'w-4', 'w-5']) {
        for (const kind of ['simple-json', 'simple-html'] as const) {
          const page = store.cachedPage(name, kind);
          assert.ok(page, `${kind}:${name} cached`);
          assert.deepEqual(page.gzip, gzipSync(html(name)));
          assert.equal(page.sha256, createHash('sha256').update(`${name} ${kind}`).digest('hex'));
        }
        assert.equal(store.cachedPage(name, 'json-api'), undefined, 'the JSON API is not warmed');
      }
      for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) assert.ok(store.cachedPage(name, 'simple-json'));
      assert.equal(await store.warm(), 0, 'what is cached is not read again');
    } finally {
      store.stopPolling();
    }

    // A budget that holds a few pages: warming stops near it instead of evicting what it cached.
    const small = new PageStore(opened.db, { cacheBytes: 64 * 1024, pollMs: 60_000 }, opened.readPage);
    await small.startPolling();
    try {
      const slab = 4 * 1024;
      const cached = await small.warm({ batch: 2, fill: slab / (64 * 1024) });
      assert.ok(cached >= 1 && cached < 16, `${cached} pages`);
      assert.ok(small.stats().bytes <= 2 * slab, `${small.stats().bytes} bytes`);
    } finally {
      small.stopPolling();
    }
  });

  test('a page evicted while it was being read is served but not cached; one read after the eviction is', async () => {
    let release: (() => void) | null = null;
    const versions: string[] = [];
    const readPage = async (name: string) => {
      const sha256 = createHash('sha256').update(`${name}-${versions.length}`).digest('hex');
      versions.push(sha256);
      if (versions.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return { sha256, length: 2100, gzip: randomBytes(700) };
    };
    const store = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 60_000 }, readPage);
    const slow = store.projectPage('raced', 'simple-json');
    await new Promise((resolve) => setImmediate(resolve));
    // A commit changes the project while the first read is in flight: what that read found may predate it.
    store.evictProject('raced');
    // Evictions of other keys, and of keys with no read in flight, veto nothing.
    store.evictProject('bystander');
    release!();
    assert.equal((await slow)!.sha256, versions[0], 'the read in flight still answers its request');
    assert.equal(store.cachedPage('raced', 'simple-json'), undefined, 'but is not cached');
    assert.equal((await store.projectPage('raced', 'simple-json'))!.sha256, versions[1], 'the next request reads again');
    assert.equal(store.cachedPage('raced', 'simple-json')?.sha256, versions[1], 'and that read, after the eviction, is cached');
    assert.ok((await store.projectPage('other', 'simple-json'))!.sha256);
    assert.ok(store.cachedPage('other', 'simple-json'), 'a read the eviction did not concern is cached');
  });

  test('a missing page is cached as missing, and counts against the budget', async () => {
    const store = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 1000 }, opened.readPage);
    assert.equal(store.cachedPage('nope', 'simple-json'), undefined);
    assert.equal(await store.projectPage('nope', 'simple-json'), null);
    assert.equal(store.cachedPage('nope', 'simple-json'), null);
    assert.equal(store.stats().entries, 1);
    assert.ok(store.stats().bytes > 0);
  });

  test('a page read outside the cache sees committed pages only, never a transaction still open', async () => {
    const store = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 1000 }, opened.readPage);
    let readInside: unknown = 'not read';
    await opened.db
      .transaction()
      .execute(async (trx) => {
        await trx
          .insertInto('rendered_pages')
          .values({ normalized_name: 'uncommitted', kind: 'simple-json', sha256: 'f'.repeat(64), length: 1, gzip: gzipSync('x'), rendered_at: new Date().toISOString() })
          .execute();
        readInside = await store.projectPage('uncommitted', 'simple-json');
        throw new Error('roll back');
      })
      .catch((error: unknown) => assert.equal((error as Error).message, 'roll back'));
    assert.equal(readInside, null);
    assert.equal(await opened.readPage('uncommitted', 'simple-json'), undefined);
  });

  test('the journal poll sees a change whose id is below the highest seen when it commits later, and reads the changed pages again', async () => {
    const store = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 60_000 }, opened.readPage);
    await store.startPolling();
    // Another process re-renders a page (a new digest) and journals the change.
    const rerender = (name: string, sha256: string) =>
      opened.db.updateTable('rendered_pages').set({ sha256 }).where('normalized_name', '=', name).where('kind', '=', 'simple-json').execute();
    try {
      const journal = (id: number, name: string) => opened.db.insertInto('page_changes').values({ id, normalized_name: name, chunk: null, changed_at: new Date().toISOString() }).execute();
      const high = Number((await opened.db.selectFrom('page_changes').select((eb) => eb.fn.max('id').as('high')).executeTakeFirst())?.high ?? 0);
      for (const name of ['a', 'b', 'c']) assert.ok(await store.projectPage(name, 'simple-json'));
      // Id high+5 commits first; high+2 (taken earlier by a slower transaction) after the poll.
      await rerender('a', '1'.repeat(64));
      await journal(high + 5, 'a');
      assert.equal(await store.pollJournal(), 1);
      assert.equal(store.cachedPage('a', 'simple-json')?.sha256, '1'.repeat(64), 'evicted by the change, and the new page read ahead');
      assert.equal(store.cachedPage('b', 'simple-json')?.sha256, 'b'.repeat(64));
      assert.equal(await store.pollJournal(), 0, 'nothing new');
      await rerender('b', '2'.repeat(64));
      await journal(high + 2, 'b');
      assert.equal(await store.pollJournal(), 1, 'the late commit below the highest id is read');
      assert.equal(store.cachedPage('b', 'simple-json')?.sha256, '2'.repeat(64));
      assert.equal(store.cachedPage('c', 'simple-json')?.sha256, 'c'.repeat(64), 'other pages stay');
      assert.equal(await store.pollJournal(), 0, 'and read once');
    } finally {
      store.stopPolling();
      await rerender('a', 'a'.repeat(64));
      await rerender('b', 'b'.repeat(64));
    }
  });

  /** A simple JSON page for each name, its digest that of the name. */
  async function insertJsonPages(names: readonly string[], now: string): Promise<void> {
    await opened.db
      .insertInto('rendered_pages')
      .values(names.map((name) => ({ normalized_name: name, kind: 'simple-json', sha256: createHash('sha256').update(name).digest('hex'), length: body.length, gzip: gzipSync(body), rendered_at: now })))
      .execute();
  }

  /** Journals a change to each name, with ids given (PostgreSQL's sequence has not seen those). */
  async function journalChanges(names: readonly string[], now: string): Promise<void> {
    const high = Number((await opened.db.selectFrom('page_changes').select((eb) => eb.fn.max('id').as('high')).executeTakeFirst())?.high ?? 0);
    await opened.db
      .insertInto('page_changes')
      .values(names.map((name, i) => ({ id: high + 1 + i, normalized_name: name, chunk: null, changed_at: now })))
      .execute();
  }

  /** Runs `work`, counting the event loop's turns meanwhile: 0 when it never let other work in. */
  async function countingTurns<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
    let turns = 0;
    let done = false;
    const turn = () => {
      if (done) return;
      turns++;
      setImmediate(turn);
    };
    setImmediate(turn);
    try {
      return { result: await work(), turns };
    } finally {
      done = true;
    }
  }

  test('reading ahead the pages of many changed projects lets other work run between its queries', async () => {
    // One import batch announces thousands of projects at once; on SQLite every query answers
    // synchronously, so reading them ahead without yielding held the event loop for its whole length.
    const names = Array.from({ length: 300 }, (_, i) => `many-${String(i).padStart(3, '0')}`);
    // Not a flood here (300 projects in one poll would be one by default: see the next test).
    const store = new PageStore(opened.db, { cacheBytes: 4 * 1024 * 1024, pollMs: 60_000, floodProjects: 10_000 }, opened.readPage);
    await store.startPolling();
    try {
      const now = new Date().toISOString();
      await insertJsonPages(names, now);
      await journalChanges(names, now);
      const { result, turns } = await countingTurns(() => store.pollJournal());
      assert.equal(result, names.length);
      assert.ok(turns >= 2, `the event loop turned ${turns} times while 300 projects were read ahead (125 per query)`);
      for (const name of names) assert.ok(store.cachedPage(name, 'simple-json'), `${name} read ahead`);
    } finally {
      store.stopPolling();
      await opened.db.deleteFrom('rendered_pages').where('normalized_name', 'in', names).execute();
      await opened.db.deleteFrom('page_changes').where('normalized_name', 'in', names).execute();
    }
  });

  test('a flood of changes (a bulk import) is not read ahead while it lasts; once it has passed, the cache is warmed', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `flood-${String(i).padStart(3, '0')}`);
    // 100 projects within ~300 ms make a flood here, passed 1.8 s after (250 within ~5 s by default, passed after 30 s).
    const store = new PageStore(opened.db, { cacheBytes: 4 * 1024 * 1024, pollMs: 60_000, floodProjects: 100, floodWindowMs: 300 }, opened.readPage);
    await store.startPolling();
    try {
      const now = new Date().toISOString();
      await insertJsonPages(names, now);
      // One change first: below the threshold, it is read ahead as usual.
      await journalChanges(names.slice(0, 1), now);
      assert.equal(await store.pollJournal(), 1);
      assert.ok(store.cachedPage(names[0]!, 'simple-json'), 'a single change is read ahead');
      await journalChanges(names.slice(1), now);
      assert.equal(await store.pollJournal(), names.length - 1);
      assert.equal(store.flooding, true);
      assert.deepEqual(names.slice(1).filter((name) => store.cachedPage(name, 'simple-json') !== undefined), [], 'nothing of the flood read ahead');
      assert.equal(await store.warm(), 0, 'and no warming during it');
      // A lull shorter than six windows (a pause between an import's batches) does not end it.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(await store.pollJournal(), 0);
      assert.equal(store.flooding, true, 'still a flood after a short lull');
      assert.equal(await store.warmingDone(), 0, 'no warming started');
      // Quiet for longer: the next poll finds the flood passed and warms the cache.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.equal(await store.pollJournal(), 0);
      assert.equal(store.flooding, false);
      assert.ok((await store.warmingDone()) >= names.length - 1, 'the warming cached what the flood changed');
      for (const name of names) assert.ok(store.cachedPage(name, 'simple-json'), `${name} cached after the flood`);
    } finally {
      store.stopPolling();
      await opened.db.deleteFrom('rendered_pages').where('normalized_name', 'in', names).execute();
      await opened.db.deleteFrom('page_changes').where('normalized_name', 'in', names).execute();
    }
  });

  test('the root is read a few chunks per query, letting other work in between; a stale chunk is read again', async () => {
    // Chunks far above any real project's, one project each (a chunk holds ids chunk*1000 to chunk*1000+999).
    const chunks = Array.from({ length: 45 }, (_, i) => 9000 + i);
    const html = (chunk: number, text: string) => `<a href="/simple/${text}-${chunk}/">${text}-${chunk}</a>\n`;
    const json = (chunk: number, text: string) => `{"name":"${text}-${chunk}"}`;
    const row = (chunk: number, text: string) => {
      const h = deflateSegment(html(chunk, text));
      const j = deflateSegment(json(chunk, text));
      return {
        chunk,
        projects: 1,
        html_length: h.length,
        html_crc32: h.crc32,
        html_deflate: h.deflate,
        json_length: j.length,
        json_crc32: j.crc32,
        json_deflate: j.deflate,
        sha256: createHash('sha256').update(`${chunk}-${text}`).digest('hex'),
        rendered_at: new Date().toISOString(),
      };
    };
    await opened.db.insertInto('root_chunks').values(chunks.map((chunk) => row(chunk, 'first'))).execute();
    try {
      const store = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 60_000 }, opened.readPage);
      const { result: roots, turns } = await countingTurns(() => store.root());
      assert.ok(turns >= 2, `the event loop turned ${turns} times while 45 chunks were read (20 per query)`);
      const text = Buffer.concat(roots.html.identity).toString('utf8');
      const positions = chunks.map((chunk) => text.indexOf(html(chunk, 'first')));
      assert.ok(positions.every((at) => at >= 0), 'every chunk is in the root');
      assert.deepEqual(positions, [...positions].sort((a, b) => a - b), 'in chunk order');
      assert.equal(gunzipSync(Buffer.concat(roots.html.gzip)).toString('utf8'), text, 'the gzip body is the same text');
      // Another process re-renders one chunk near the end and journals it: only that chunk is read again.
      await opened.db.updateTable('root_chunks').set(row(9044, 'second')).where('chunk', '=', 9044).execute();
      store.evictRootChunk(9044);
      const again = await store.root();
      const json2 = Buffer.concat(again.json.identity).toString('utf8');
      assert.ok(json2.includes(json(9044, 'second')) && !json2.includes(json(9044, 'first')), 'the stale chunk read again');
      assert.ok(json2.includes(json(9000, 'first')), 'the others kept');
      assert.notEqual(again.json.etag, roots.json.etag);
    } finally {
      await opened.db.deleteFrom('root_chunks').where('chunk', 'in', chunks).execute();
    }
  });

  test('a poll that finds thousands of changes lets other work run between its queries', async () => {
    // An import batch journals thousands of projects in one commit; reading and evicting them all
    // in one synchronous stretch (SQLite) held the event loop ~50 ms at 1M files. No room in the
    // cache, so nothing is read ahead and only the journal's own reads are left to yield.
    const names = Array.from({ length: 1_200 }, (_, i) => `journal-${String(i).padStart(4, '0')}`);
    const store = new PageStore(opened.db, { cacheBytes: 0, pollMs: 60_000 }, opened.readPage);
    await store.startPolling();
    try {
      const now = new Date().toISOString();
      await journalChanges(names, now);
      const { result, turns } = await countingTurns(() => store.pollJournal());
      assert.equal(result, names.length, 'every change handled in one poll');
      assert.ok(turns >= 2, `the event loop turned ${turns} times while 1,200 journal rows were read (500 per query)`);
      assert.equal(await store.pollJournal(), 0, 'and none of them again');
    } finally {
      store.stopPolling();
      await opened.db.deleteFrom('page_changes').where('normalized_name', 'in', names).execute();
    }
  });
});
