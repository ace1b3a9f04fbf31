import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PageStore } from '../../src/server/pages/page-store.ts';
import { openDatabase, type OpenedDatabase } from '../../src/server/storage/database.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { testEngines } from '../support/server.ts';

/**
 * The page cache in front of `rendered_pages`: byte-bounded, evicting with CLOCK (a page read
 * since the hand last passed gets a second chance; one never read again goes first), so that a
 * hit costs no reordering and the pages clients keep asking for stay in memory.
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

  test('keeps within its byte budget, and evicts a page nobody read again before one that was read', async () => {
    const one = new PageStore(opened.db, undefined, opened.readPage);
    const page = (await one.projectPage('a', 'simple-json'))!;
    const entryCost = one.stats().bytes;
    assert.ok(entryCost > page.gzip.length + 500, 'an entry counts more than its bytes');
    // Room for four entries of this size, not five (an entry may take at most a quarter).
    const store = new PageStore(opened.db, { cacheBytes: entryCost * 4 + 10, pollMs: 1000 }, opened.readPage);
    for (const name of ['a', 'b', 'c', 'd']) assert.ok(await store.projectPage(name, 'simple-json'));
    assert.deepEqual(store.stats(), { entries: 4, bytes: entryCost * 4 });
    // a, c and d are read again; b is not.
    for (const name of ['a', 'c', 'd']) assert.ok(store.cachedPage(name, 'simple-json'));
    await store.projectPage('e', 'simple-json');
    assert.equal(store.cachedPage('b', 'simple-json'), undefined, 'the page not read since it was cached went first');
    for (const name of ['a', 'c', 'd', 'e']) assert.ok(store.cachedPage(name, 'simple-json'), `${name} stayed`);
    assert.deepEqual(store.stats(), { entries: 4, bytes: entryCost * 4 });
    // Every entry read since: the hand goes on from where it stopped (after b), clears the marks of
    // c, d and e, passes f (the page just read), wraps to a and clears it, and evicts c, the first it
    // meets again.
    await store.projectPage('f', 'simple-json');
    assert.equal(store.stats().entries, 4);
    assert.equal(store.cachedPage('c', 'simple-json'), undefined);
    for (const name of ['a', 'd', 'e', 'f']) assert.ok(store.cachedPage(name, 'simple-json'), `${name} stayed`);
  });

  test('the hand keeps turning while pages come and go: a page read between insertions is never evicted', async () => {
    const gzip = gzipSync(body);
    const reads: string[] = [];
    const readPage = async (name: string) => {
      reads.push(name);
      return { sha256: 'f'.repeat(64), length: body.length, gzip };
    };
    const probe = new PageStore(opened.db, undefined, readPage);
    await probe.projectPage('probe-000', 'simple-json'); // as long as every name below: the same cost
    const entryCost = probe.stats().bytes;
    const store = new PageStore(opened.db, { cacheBytes: entryCost * 8 + 10, pollMs: 1000 }, readPage);
    assert.ok(await store.projectPage('hot-00000', 'simple-json'));
    // Thousands of evictions: the map deletes and appends far more than it holds, and V8 rehashes it
    // underneath the hand several times.
    for (let i = 0; i < 5000; i++) {
      assert.ok(store.cachedPage('hot-00000', 'simple-json'), `the hot page is still cached after ${i} insertions`);
      await store.projectPage(`cold-${String(i).padStart(4, '0')}`, 'simple-json');
      assert.ok(store.stats().bytes <= entryCost * 8 + 10);
    }
    assert.equal(reads.filter((name) => name === 'hot-00000').length, 1, 'the hot page was read from the database once');
    assert.equal(store.stats().entries, 8);
    // What is cached is the hot page and the newest cold ones; an old cold page is read again.
    assert.ok(store.cachedPage('cold-4999', 'simple-json'));
    assert.equal(store.cachedPage('cold-0000', 'simple-json'), undefined);
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

  test('the journal poll sees a change whose id is below the highest seen when it commits later', async () => {
    const store = new PageStore(opened.db, { cacheBytes: 1024 * 1024, pollMs: 60_000 }, opened.readPage);
    await store.startPolling();
    try {
      const journal = (id: number, name: string) => opened.db.insertInto('page_changes').values({ id, normalized_name: name, chunk: null, changed_at: new Date().toISOString() }).execute();
      const high = Number((await opened.db.selectFrom('page_changes').select((eb) => eb.fn.max('id').as('high')).executeTakeFirst())?.high ?? 0);
      for (const name of ['a', 'b', 'c']) assert.ok(await store.projectPage(name, 'simple-json'));
      // Id high+5 commits first; high+2 (taken earlier by a slower transaction) after the poll.
      await journal(high + 5, 'a');
      assert.equal(await store.pollJournal(), 1);
      assert.equal(store.cachedPage('a', 'simple-json'), undefined, 'evicted by the change');
      assert.ok(store.cachedPage('b', 'simple-json'));
      assert.equal(await store.pollJournal(), 0, 'nothing new');
      await journal(high + 2, 'b');
      assert.equal(await store.pollJournal(), 1, 'the late commit below the highest id is read');
      assert.equal(store.cachedPage('b', 'simple-json'), undefined);
      assert.ok(store.cachedPage('c', 'simple-json'), 'other pages stay');
      assert.equal(await store.pollJournal(), 0, 'and read once');
    } finally {
      store.stopPolling();
    }
  });
});
