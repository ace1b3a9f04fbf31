import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { INDEX_ENTRY_BYTES, PageSlabCache, ShardedIndex, type SlabPage } from '../../src/server/pages/page-slab-cache.ts';

/**
 * The page cache's storage: pages packed into large buffers, evicted a slab at a time (oldest
 * first, with a second chance for pages read since they were written), within a byte budget.
 */

function page(name: string, size = 700): SlabPage {
  const gzip = Buffer.alloc(size, name);
  return { sha256: createHash('sha256').update(name).digest('hex'), length: size * 3, gzip };
}

test('gives back what it was given: bytes, digest, length, and pages known not to exist', () => {
  const cache = new PageSlabCache(1024 * 1024);
  const a = page('a');
  cache.set('simple-json:a', a);
  cache.set('simple-json:gone', null);
  const got = cache.get('simple-json:a');
  assert.ok(got);
  assert.equal(got.sha256, a.sha256);
  assert.equal(got.length, a.length);
  assert.deepEqual(got.gzip, a.gzip);
  assert.equal(cache.get('simple-json:gone'), null);
  assert.equal(cache.get('simple-json:b'), undefined);
  assert.equal(cache.stats().entries, 2);
});

test('replacing or deleting a key leaves only the new page, or nothing', () => {
  const cache = new PageSlabCache(1024 * 1024);
  cache.set('k', page('old'));
  cache.set('k', page('new', 300));
  assert.equal(cache.get('k')!.sha256, page('new').sha256);
  assert.equal(cache.get('k')!.gzip.length, 300);
  assert.equal(cache.stats().entries, 1);
  cache.delete('k');
  assert.equal(cache.get('k'), undefined);
  assert.deepEqual([cache.stats().entries, cache.stats().liveBytes], [0, 0]);
});

test('stays within its budget, and keeps the pages read since they were written', () => {
  const budget = 256 * 1024;
  const cache = new PageSlabCache(budget);
  // A working set read over and over while one-off pages stream through.
  const hot = Array.from({ length: 20 }, (_, i) => `hot-${i}`);
  for (const key of hot) cache.set(key, page(key));
  for (let i = 0; i < 5000; i++) {
    cache.set(`cold-${i}`, page(`cold-${i}`));
    if (i % 50 === 0) for (const key of hot) assert.ok(cache.get(key), `${key} is cached after ${i} one-off pages`);
    assert.ok(cache.stats().bytes <= budget, `${cache.stats().bytes} bytes held within ${budget}`);
  }
  for (const key of hot) assert.equal(cache.get(key)!.sha256, page(key).sha256);
  // The one-off pages went, oldest first; the recent ones are still there.
  assert.equal(cache.get('cold-0'), undefined);
  assert.ok(cache.get('cold-4999'));
  const { entries, bytes } = cache.stats();
  assert.ok(entries > 150, `the budget holds many pages (${entries})`);
  assert.ok(bytes > budget * 0.75, `and is used (${bytes} of ${budget})`);
});

test('what it holds for a key is always what was last set for it, through many evictions', () => {
  const cache = new PageSlabCache(128 * 1024);
  const sizes = [1, 50, 700, 2000, 3000];
  /** What each key was last set to (null: not existing), or undefined once deleted. */
  const model = new Map<string, SlabPage | null | undefined>();
  let held = 0;
  for (let i = 0; i < 3000; i++) {
    const key = `p-${(i * 7919) % 400}`;
    if (i % 11 === 0) {
      cache.delete(key);
      model.set(key, undefined);
    } else {
      const value = i % 7 === 0 ? null : page(`${key}-${i}`, sizes[i % sizes.length]!);
      cache.set(key, value);
      model.set(key, value);
      assert.deepEqual(cache.get(key), value ?? null, `${key} just cached`);
    }
    // Read a tenth of the keys, setting second chances, and check each against the model.
    for (let k = i % 10; k < 400; k += 10) {
      const got = cache.get(`p-${k}`);
      if (got === undefined) continue;
      held++;
      const expected = model.get(`p-${k}`);
      assert.notEqual(expected, undefined, `p-${k} was deleted but is still cached`);
      if (expected === null) assert.equal(got, null);
      else assert.deepEqual(got, expected);
    }
  }
  assert.ok(held > 10_000, `${held} cached pages checked`);
});

test('bytes handed out stay as they were after their slab is reused (a slow socket may still be writing them)', () => {
  const cache = new PageSlabCache(64 * 1024);
  cache.set('first', page('first', 1000));
  const answer = cache.get('first')!.gzip;
  const before = Buffer.from(answer);
  for (let i = 0; i < 2000; i++) cache.set(`other-${i}`, page(`other-${i}`, 1000));
  assert.equal(cache.get('first'), undefined, 'evicted');
  assert.ok(answer.equals(before), 'the buffer given out earlier still holds the page');
});

test('allocates its memory once: pages streaming through a full cache allocate no more', () => {
  const budget = 1024 * 1024;
  const cache = new PageSlabCache(budget);
  // Made beforehand, so that the loop allocates nothing outside the cache.
  const pages = Array.from({ length: 64 }, (_, i) => page(`stream-${i}`, 2000));
  const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
  // Forty times the budget streams through: 640 slabs reclaimed.
  for (let i = 0; i < 20_000; i++) cache.set(`stream-${i}`, pages[i % pages.length]!);
  const grown = process.memoryUsage().arrayBuffers - arrayBuffersBefore;
  // A fresh 64 KiB slab for each one reclaimed came to 40 MiB here, which only a full collection gave back.
  assert.ok(grown < budget / 4, `memory for buffers grew by ${grown} bytes`);
  assert.equal(cache.get('stream-19999')!.sha256, pages[19_999 % pages.length]!.sha256);
});

test('a page larger than half a slab is not cached; a zero budget caches nothing', () => {
  const cache = new PageSlabCache(1024 * 1024);
  assert.equal(cache.slabBytes, 64 * 1024);
  cache.set('big', page('big', 40 * 1024));
  assert.equal(cache.get('big'), undefined);
  cache.set('fits', page('fits', 30 * 1024));
  assert.ok(cache.get('fits'));
  const none = new PageSlabCache(0);
  none.set('a', page('a'));
  none.set('b', null);
  assert.deepEqual(none.stats(), { entries: 0, bytes: 0, liveBytes: 0 });
});

test('counts the index against the budget', () => {
  const budget = 1024 * 1024;
  const cache = new PageSlabCache(budget);
  // Pages known not to exist take 44 bytes of slab: the index is most of what they cost.
  for (let i = 0; i < 20000; i++) cache.set(`missing-${i}`, null);
  const { entries, bytes } = cache.stats();
  assert.ok(bytes <= budget);
  assert.ok(entries * INDEX_ENTRY_BYTES <= budget && entries < 20000, `${entries} entries`);
});

test('the index spreads keys over its shards, so that no one Map grows large enough for a long rehash', () => {
  // Keys as the page store makes them: a shared prefix, then names that differ in a few characters.
  const names = [
    ...Array.from({ length: 60_000 }, (_, i) => `project-${i}`),
    ...Array.from({ length: 20_000 }, (_, i) => `${['django', 'flask', 'numpy', 'requests', 'pytest'][i % 5]}-${(i * 7919).toString(36)}`),
  ];
  const index = new ShardedIndex();
  for (const [i, name] of names.entries()) for (const kind of ['simple-html', 'simple-json']) index.set(`${kind}:${name}`, i);
  assert.equal(index.size, names.length * 2);
  const sizes = index.shardSizes();
  const mean = index.size / sizes.length;
  assert.ok(sizes.length >= 64, `${sizes.length} shards`);
  assert.ok(Math.max(...sizes) < mean * 1.5 && Math.min(...sizes) > mean * 0.5, `shard sizes ${Math.min(...sizes)}–${Math.max(...sizes)} around ${mean}`);

  // Replacing counts once, deleting what is absent changes nothing, and every key maps to its slot.
  index.set('simple-json:project-1', 42);
  index.delete('simple-json:absent');
  assert.equal(index.size, names.length * 2);
  assert.equal(index.get('simple-json:project-1'), 42);
  assert.equal(index.get('simple-html:project-59999'), 59_999);
  index.delete('simple-json:project-1');
  assert.equal(index.get('simple-json:project-1'), undefined);
  assert.equal(index.size, names.length * 2 - 1);
});
