import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { openServices } from '../../src/server/composition.ts';
import { ROOT_CHUNK_SIZE } from '../../src/server/pages/page-renderer.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * Pages rendered on write (issue 10): what pip reads is stored when a project changes and served
 * as stored, gzip-compressed to clients that accept it; the `/simple/` root is assembled from
 * chunks; another process sharing the database sees changes within one journal poll.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-pages-'));
after(() => rmSync(work, { recursive: true, force: true }));
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

/** A GET whose bytes arrive as sent (fetch would decompress them and hide what the server did). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

for (const { engine, skip } of await testEngines()) {
  describe(`pages rendered on write (${engine})`, { skip }, () => {
    let server: TestServer;
    let auth: string;
    const dir = mkdtempSync(join(work, `${engine}-`));
    const first = makeDistribution(dir, { name: 'Paged', version: '1.0', kind: 'wheel' });
    const second = makeDistribution(dir, { name: 'Paged', version: '1.1', kind: 'sdist' });
    before(async () => {
      server = await startTestServer(engine);
      auth = basicAuth(await server.token('new_projects'));
      assert.equal((await uploadFile(server.url, first.path, auth)).status, 200);
    });
    after(async () => server?.stop());

    test('a project page is stored at upload and served gzip to pip, identity to others, each with its own ETag', async () => {
      const stored = await server.services.pages.projectPage('paged', 'simple-json');
      assert.ok(stored, 'the upload stored the page');
      const identity = gunzipSync(stored.gzip);
      assert.equal(createHash('sha256').update(identity).digest('hex'), stored.sha256);

      const url = `${server.url}/simple/paged/`;
      const zipped = await rawGet(url, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip, deflate' });
      assert.equal(zipped.status, 200);
      assert.equal(zipped.headers['content-encoding'], 'gzip');
      assert.match(String(zipped.headers.vary), /Accept-Encoding/);
      assert.deepEqual(gunzipSync(zipped.body), identity);
      const plain = await rawGet(url, { Accept: JSON_TYPE });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.deepEqual(plain.body, identity);
      assert.equal(plain.headers['content-length'], String(identity.length));
      assert.notEqual(plain.headers.etag, zipped.headers.etag);
      const files = (JSON.parse(plain.body.toString('utf8')) as { files: { filename: string }[] }).files;
      assert.deepEqual(files.map((f) => f.filename), [first.filename]);

      // Revalidation answers 304 per encoding.
      assert.equal((await rawGet(url, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip', 'If-None-Match': String(zipped.headers.etag) })).status, 304);
      assert.equal((await rawGet(url, { Accept: JSON_TYPE, 'If-None-Match': String(zipped.headers.etag) })).status, 200);

      // The JSON API document is stored too.
      const api = await rawGet(`${server.url}/pypi/paged/json`, { 'Accept-Encoding': 'gzip' });
      assert.equal(api.headers['content-encoding'], 'gzip');
      assert.equal((JSON.parse(gunzipSync(api.body).toString('utf8')) as { info: { version: string } }).info.version, '1.0');
    });

    test('a cached page answered before routing is the same answer fastify gives, and is counted', async () => {
      // The upload's own journal entries, read now, so that no poll evicts the page mid-test.
      await server.services.pages.pollJournal();
      for (const [path, accept] of [
        ['/simple/paged/', JSON_TYPE],
        ['/simple/paged/', 'application/vnd.pypi.simple.v1+html'],
        ['/simple/paged/', 'text/html'],
        ['/pypi/paged/json', 'application/json'],
      ] as const) {
        server.services.pages.evictProject('paged');
        const headers = { Accept: accept, 'Accept-Encoding': 'gzip' };
        const routed = await rawGet(`${server.url}${path}`, headers); // a miss: fastify reads and caches
        assert.ok(server.services.pages.cachedPage('paged', path.startsWith('/pypi') ? 'json-api' : accept === JSON_TYPE ? 'simple-json' : 'simple-html'), `${path} ${accept} ${routed.status}`);
        const fast = await rawGet(`${server.url}${path}`, headers); // a hit: answered before routing
        for (const name of ['etag', 'content-type', 'content-encoding', 'content-length', 'vary', 'cache-control']) {
          assert.equal(fast.headers[name], routed.headers[name], `${path} ${accept}: ${name}`);
        }
        assert.deepEqual(fast.body, routed.body);
        assert.equal((await rawGet(`${server.url}${path}`, { ...headers, 'If-None-Match': String(fast.headers.etag) })).status, 304);
      }
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /cairn_http_requests_total\{method="GET",route="\/simple\/:project\/",status="304"\} [1-9]/);
    });

    test('an upload re-renders the page in its own transaction: the next read shows the file', async () => {
      const before = await rawGet(`${server.url}/simple/paged/`, { Accept: JSON_TYPE });
      assert.equal((await uploadFile(server.url, second.path, auth)).status, 200);
      const afterUpload = await rawGet(`${server.url}/simple/paged/`, { Accept: JSON_TYPE });
      assert.notEqual(afterUpload.headers.etag, before.headers.etag);
      const files = (JSON.parse(afterUpload.body.toString('utf8')) as { files: { filename: string }[] }).files;
      assert.deepEqual(files.map((f) => f.filename), [first.filename, second.filename]);
      const api = (await (await fetch(`${server.url}/pypi/paged/json`)).json()) as { info: { version: string } };
      assert.equal(api.info.version, '1.1');
    });

    test('the root spans chunks: every project in id order, gzip and not, and a new project changes one chunk', async () => {
      // Enough projects to fill the first chunk and start the second.
      const names: string[] = [];
      for (let i = 0; i < ROOT_CHUNK_SIZE + 5; i++) {
        const name = `Chunked.${String(i).padStart(4, '0')}`;
        await server.services.index.createProject(name, new Date());
        names.push(name);
      }
      const expected = ['Paged', ...names];
      const json = await rawGet(`${server.url}/simple/`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' });
      assert.equal(json.headers['content-encoding'], 'gzip');
      assert.equal(json.headers['content-length'], String(json.body.length));
      const listed = (JSON.parse(gunzipSync(json.body).toString('utf8')) as { projects: { name: string }[] }).projects.map((p) => p.name);
      assert.deepEqual(listed, expected);
      const html = await rawGet(`${server.url}/simple/`);
      assert.equal(html.headers['content-encoding'], undefined);
      const links = [...html.body.toString('utf8').matchAll(/<a href="([^"]+)\/">([^<]+)<\/a>/g)].map((m) => m[2]);
      assert.deepEqual(links, expected);
      assert.match(html.body.toString('utf8'), /^<!DOCTYPE html>[\s\S]*<\/html>\n$/);

      const etag = json.headers.etag;
      await server.services.index.createProject('Late.Comer', new Date());
      const again = await rawGet(`${server.url}/simple/`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' });
      assert.notEqual(again.headers.etag, etag);
      const relisted = (JSON.parse(gunzipSync(again.body).toString('utf8')) as { projects: { name: string }[] }).projects.map((p) => p.name);
      assert.deepEqual(relisted, [...expected, 'Late.Comer']);
      assert.equal((await rawGet(`${server.url}/simple/`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip', 'If-None-Match': String(again.headers.etag) })).status, 304);
    });

    test('another process sharing the database sees a change within one poll of the journal', async () => {
      // A second composition root on the same database and data: what `cairn admin` or another
      // instance is.
      const other = await openServices(server.config);
      try {
        await other.pages.startPolling();
        assert.ok(await other.pages.projectPage('paged', 'simple-html'));
        const cachedBefore = await other.pages.projectPage('paged', 'simple-html');
        await server.services.index.setYanked('paged', '1.1', true, 'broken');
        // Still the cached page until the journal is read…
        assert.equal((await other.pages.projectPage('paged', 'simple-html'))?.sha256, cachedBefore?.sha256);
        assert.ok((await other.pages.pollJournal()) >= 1);
        const fresh = await other.pages.projectPage('paged', 'simple-html');
        assert.notEqual(fresh?.sha256, cachedBefore?.sha256);
        assert.match(gunzipSync(fresh!.gzip).toString('utf8'), /data-yanked="broken"/);
      } finally {
        await other.close();
      }
    });

    test('a project that does not exist is a 404 with a code; a project without releases has pages but no JSON document', async () => {
      const missing = await fetch(`${server.url}/simple/no-such-project/`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { code: string }).code, 'project.not_found');
      assert.equal((await fetch(`${server.url}/simple/late-comer/`)).status, 200);
      const noRelease = await fetch(`${server.url}/pypi/late-comer/json`);
      assert.equal(noRelease.status, 404);
      assert.equal(((await noRelease.json()) as { code: string }).code, 'release.not_found');
    });
  });
}
