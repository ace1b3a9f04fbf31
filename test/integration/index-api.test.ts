import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * The read side of the index as pip, uv and PyPI tooling read it: files (ETag, Range, HEAD,
 * immutable caching), content negotiation of the simple API, PEP 592/700 fields, the JSON API,
 * and a yank made by the admin CLI in another process.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-read-'));
after(() => rmSync(work, { recursive: true, force: true }));
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

for (const { engine, skip } of await testEngines()) {
  describe(`index read API (${engine})`, { skip }, () => {
    let server: TestServer;
    // Each engine gets its own files: rebuilding a wheel changes its bytes (zip timestamps).
    const dir = mkdtempSync(join(work, `${engine}-`));
    const wheel = makeDistribution(dir, { name: 'Read.Me', version: '2.0', kind: 'wheel', extraHeaders: 'Requires-Python: >=3.9\n' });
    const sdist = makeDistribution(dir, { name: 'Read.Me', version: '2.0', kind: 'sdist' });
    const old = makeDistribution(dir, { name: 'Read.Me', version: '1.0', kind: 'wheel' });
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    before(async () => {
      server = await startTestServer(engine);
      const auth = basicAuth(await server.token('new_projects'));
      for (const d of [old, wheel, sdist]) assert.equal((await uploadFile(server.url, d.path, auth)).status, 200);
    });
    after(async () => server?.stop());

    test('files: strong ETag, immutable caching, HEAD, Range, 304 and 416', async () => {
      const url = `${server.url}/files/${sha(wheel.bytes)}/${wheel.filename}`;
      const full = await fetch(url);
      assert.equal(full.status, 200);
      assert.deepEqual(Buffer.from(await full.arrayBuffer()), wheel.bytes);
      assert.equal(full.headers.get('etag'), `"${sha(wheel.bytes)}"`);
      assert.match(full.headers.get('cache-control') ?? '', /immutable/);
      const head = await fetch(url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(wheel.bytes.length));
      const range = await fetch(url, { headers: { Range: 'bytes=10-19' } });
      assert.equal(range.status, 206);
      assert.equal(range.headers.get('content-range'), `bytes 10-19/${wheel.bytes.length}`);
      assert.deepEqual(Buffer.from(await range.arrayBuffer()), wheel.bytes.subarray(10, 20));
      assert.equal((await fetch(url, { headers: { 'If-None-Match': `"${sha(wheel.bytes)}"` } })).status, 304);
      assert.equal((await fetch(url, { headers: { Range: `bytes=${wheel.bytes.length + 5}-` } })).status, 416);
      assert.equal((await fetch(`${server.url}/files/${'0'.repeat(64)}/${wheel.filename}`)).status, 404);
      assert.equal((await fetch(`${server.url}/files/${sha(wheel.bytes)}/other-name.whl`)).status, 404, 'a digest serves only its own filename');
      const metadata = await fetch(`${url}.metadata`);
      assert.equal(metadata.status, 200);
      assert.match(await metadata.text(), /^Metadata-Version: 2\.1\nName: Read\.Me\nVersion: 2\.0/);
    });

    test('simple API: negotiation by Accept q-values and ?format=, 406, redirects, PEP 700 fields', async () => {
      const page = `${server.url}/simple/read-me/`;
      const prefersJson = await fetch(page, { headers: { Accept: 'text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.9' } });
      assert.match(prefersJson.headers.get('content-type') ?? '', /^application\/vnd\.pypi\.simple\.v1\+json/);
      assert.match(prefersJson.headers.get('vary') ?? '', /Accept/);
      const body = (await prefersJson.json()) as { meta: { 'api-version': string }; name: string; versions: string[]; files: { filename: string; size: number; 'upload-time': string; 'requires-python': string | null; yanked: unknown }[] };
      assert.equal(body.meta['api-version'], '1.4', 'PEP 740 provenance needs api-version 1.3, PEP 792 status 1.4');
      assert.deepEqual(body.versions, ['1.0', '2.0']);
      const w = body.files.find((f) => f.filename === wheel.filename)!;
      assert.equal(w.size, wheel.bytes.length);
      assert.match(w['upload-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      assert.equal(w['requires-python'], '>=3.9');
      const html = await fetch(`${page}?format=text/html`, { headers: { Accept: JSON_TYPE } });
      assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await html.text(), /data-requires-python="&gt;=3\.9"/);
      const none = await fetch(page, { headers: { Accept: 'application/xml' } });
      assert.equal(none.status, 406);
      assert.equal(((await none.json()) as { code: string }).code, 'request.not_acceptable');
      const redirect = await fetch(`${server.url}/simple/Read.Me/`, { redirect: 'manual' });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get('location'), '/simple/read-me/');
      const missing = await fetch(`${server.url}/simple/not-here/`, { headers: { Accept: JSON_TYPE } });
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { code: string }).code, 'project.not_found');
    });

    test('the root lists every project in both formats', async () => {
      const json = (await (await fetch(`${server.url}/simple/`, { headers: { Accept: JSON_TYPE } })).json()) as { projects: { name: string }[] };
      assert.deepEqual(json.projects.map((p) => p.name), ['Read.Me']);
      const html = await (await fetch(`${server.url}/simple/`)).text();
      assert.match(html, /<a href="read-me\/">Read\.Me<\/a>/);
    });

    test('JSON API: PyPI shape for the latest release and a given version', async () => {
      const latest = (await (await fetch(`${server.url}/pypi/read-me/json`)).json()) as {
        info: { name: string; version: string; requires_python: string | null; yanked: boolean };
        releases: Record<string, { filename: string }[]>;
        urls: { filename: string; digests: { md5: string; sha256: string; blake2b_256: string }; upload_time_iso_8601: string; packagetype: string }[];
      };
      assert.equal(latest.info.name, 'Read.Me');
      assert.equal(latest.info.version, '2.0');
      assert.deepEqual(Object.keys(latest.releases).sort(), ['1.0', '2.0']);
      const w = latest.urls.find((u) => u.filename === wheel.filename)!;
      assert.equal(w.digests.sha256, sha(wheel.bytes));
      assert.equal(w.digests.md5, createHash('md5').update(wheel.bytes).digest('hex'));
      assert.match(w.digests.blake2b_256, /^[0-9a-f]{64}$/);
      assert.equal(w.packagetype, 'bdist_wheel');
      assert.equal(latest.urls.find((u) => u.filename === sdist.filename)!.packagetype, 'sdist');
      const v1 = (await (await fetch(`${server.url}/pypi/read-me/1.0/json`)).json()) as { info: { version: string }; urls: unknown[] };
      assert.equal(v1.info.version, '1.0');
      assert.equal(v1.urls.length, 1);
      const absent = await fetch(`${server.url}/pypi/read-me/9.9/json`);
      assert.equal(absent.status, 404);
      assert.equal(((await absent.json()) as { code: string }).code, 'release.not_found');
    });

    test('a yank by the admin CLI (another process) shows in the simple and JSON APIs within a second', async () => {
      const storage = ['--data-dir', server.dataDir, '--database-url', server.config.databaseUrl];
      const yank = await runCairn(['admin', 'yank', 'read-me', '2.0', '--reason', 'broken build', ...storage]);
      assert.equal(yank.status, 0, yank.output);
      await sleep(1100);
      const body = (await (await fetch(`${server.url}/simple/read-me/`, { headers: { Accept: JSON_TYPE } })).json()) as { files: { filename: string; yanked: unknown }[] };
      assert.equal(body.files.find((f) => f.filename === wheel.filename)!.yanked, 'broken build');
      assert.equal(body.files.find((f) => f.filename === old.filename)!.yanked, false);
      assert.match(await (await fetch(`${server.url}/simple/read-me/`)).text(), /data-yanked="broken build"/);
      const json = (await (await fetch(`${server.url}/pypi/read-me/json`)).json()) as { info: { version: string } };
      assert.equal(json.info.version, '1.0', 'the latest release skips yanked ones');
      const v2 = (await (await fetch(`${server.url}/pypi/read-me/2.0/json`)).json()) as { info: { yanked: boolean; yanked_reason: string } };
      assert.deepEqual([v2.info.yanked, v2.info.yanked_reason], [true, 'broken build']);
    });
  });
}
