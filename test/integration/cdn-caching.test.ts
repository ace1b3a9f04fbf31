import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadServerConfig } from '../../src/server/config.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { freePort } from '../support/rgw.ts';
import { basicAuth, startTestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';
import { skipUnlessVarnish, startVarnish } from '../support/varnish.ts';

/**
 * CDN-ready pages: cache headers as PyPI sends them, a Surrogate-Key per project, and a purge
 * hook fired on every change, exercised with a real Varnish in front of the index.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-cdn-'));
after(() => rmSync(work, { recursive: true, force: true }));
const JSON_PAGE = { Accept: 'application/vnd.pypi.simple.v1+json' };
const EXPECTED_CACHE = 'public, max-age=60, s-maxage=86400, stale-if-error=86400';

async function filenames(answer: Response): Promise<string[]> {
  return ((await answer.json()) as { files: { filename: string }[] }).files.map((f) => f.filename);
}

describe('pages for a shared cache', () => {
  test('project pages and the JSON API carry short browser and long shared-cache lifetimes, stale-if-error and the project\'s Surrogate-Key', async () => {
    const server = await startTestServer('sqlite');
    try {
      const auth = basicAuth(await server.token('new_projects'));
      const dist = makeDistribution(work, { name: 'Cache-Me', version: '1.0', kind: 'wheel' });
      assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
      // The first answer may come from the router, later ones from the page cache: both agree.
      for (let n = 0; n < 2; n++) {
        for (const [path, headers] of [['/simple/cache-me/', JSON_PAGE], ['/simple/cache-me/', {}], ['/pypi/cache-me/json', {}]] as const) {
          const answer = await fetch(`${server.url}${path}`, { headers });
          assert.equal(answer.status, 200);
          assert.equal(answer.headers.get('cache-control'), EXPECTED_CACHE, path);
          assert.equal(answer.headers.get('surrogate-key'), 'project-cache-me', path);
        }
      }
      const root = await fetch(`${server.url}/simple/`);
      assert.equal(root.headers.get('cache-control'), EXPECTED_CACHE);
      assert.equal(root.headers.get('surrogate-key'), 'simple-index');
    } finally {
      await server.stop();
    }
  });

  test('lifetimes follow CAIRN_PAGE_MAX_AGE, CAIRN_PAGE_SHARED_MAX_AGE and CAIRN_PAGE_STALE_IF_ERROR; a bad purge URL is refused', () => {
    const config = loadServerConfig({ dataDir: work }, { CAIRN_PAGE_MAX_AGE: '10', CAIRN_PAGE_SHARED_MAX_AGE: '3600', CAIRN_PAGE_STALE_IF_ERROR: '0' });
    assert.deepEqual(config.pageCaching, { maxAgeSeconds: 10, sharedMaxAgeSeconds: 3600, staleIfErrorSeconds: 0 });
    assert.throws(() => loadServerConfig({ dataDir: work }, { CAIRN_PURGE_URL: 'varnish/simple/{project}/' }), /CAIRN_PURGE_URL must be http\(s\) URL templates/);
    assert.throws(() => loadServerConfig({ dataDir: work }, { CAIRN_PAGE_MAX_AGE: '-1' }), /page max-age/);
  });

  describe('behind Varnish', { skip: skipUnlessVarnish() }, () => {
    test('a page is served from the cache; an upload purges it and the next read shows the new file; other projects stay cached', async () => {
      const cachePort = await freePort();
      const cacheUrl = `http://127.0.0.1:${cachePort}`;
      const server = await startTestServer('sqlite', {
        purge: { urlTemplates: [`${cacheUrl}/simple/{project}/`, `${cacheUrl}/pypi/{project}/json`, `${cacheUrl}/simple/`], method: 'PURGE' },
      });
      const cache = await startVarnish(cachePort, server.url);
      try {
        const auth = basicAuth(await server.token('new_projects'));
        const first = makeDistribution(work, { name: 'edge-cached', version: '1.0', kind: 'wheel' });
        const other = makeDistribution(work, { name: 'bystander', version: '1.0', kind: 'wheel' });
        assert.equal((await uploadFile(server.url, first.path, auth)).status, 200);
        assert.equal((await uploadFile(server.url, other.path, auth)).status, 200);

        const miss = await fetch(`${cache.url}/simple/edge-cached/`, { headers: JSON_PAGE });
        assert.equal(miss.headers.get('x-cache'), 'MISS');
        assert.deepEqual(await filenames(miss), [first.filename]);
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const hit = await fetch(`${cache.url}/simple/edge-cached/`, { headers: JSON_PAGE });
        assert.equal(hit.headers.get('x-cache'), 'HIT');
        assert.match(hit.headers.get('x-varnish') ?? '', /^\d+ \d+$/, 'X-Varnish names the request and the cached object');
        assert.ok(Number(hit.headers.get('age')) >= 1, `Age ${hit.headers.get('age')}`);
        assert.deepEqual(await filenames(hit), [first.filename]);
        await (await fetch(`${cache.url}/simple/bystander/`, { headers: JSON_PAGE })).arrayBuffer();

        const second = makeDistribution(work, { name: 'edge-cached', version: '2.0', kind: 'wheel' });
        assert.equal((await uploadFile(server.url, second.path, auth)).status, 200);
        // The purge goes out right after the commit, in the background.
        let after: Response;
        const deadline = Date.now() + 3000;
        for (;;) {
          after = await fetch(`${cache.url}/simple/edge-cached/`, { headers: JSON_PAGE });
          if (after.headers.get('x-cache') === 'MISS' || Date.now() > deadline) break;
          await after.arrayBuffer();
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(after.headers.get('x-cache'), 'MISS', 'purged');
        assert.deepEqual((await filenames(after)).sort(), [first.filename, second.filename].sort());
        const bystander = await fetch(`${cache.url}/simple/bystander/`, { headers: JSON_PAGE });
        assert.equal(bystander.headers.get('x-cache'), 'HIT', 'another project is not purged');
        await bystander.arrayBuffer();
      } finally {
        await cache.stop();
        await server.stop();
      }
    });
  });
});
