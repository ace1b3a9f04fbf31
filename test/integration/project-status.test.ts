import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { provideBuildProvenance } from '../support/provenance.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * PEP 792 project status set by the operator (`cairn admin project status`), enforced at upload
 * and download, and shown in every surface that is rendered on write; and release closing.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-status-'));
after(() => rmSync(work, { recursive: true, force: true }));

const wheel = makeDistribution(work, { name: 'statuspkg', version: '1.0', kind: 'wheel' });
const sdist = makeDistribution(work, { name: 'statuspkg', version: '1.0', kind: 'sdist' });
const next = makeDistribution(work, { name: 'statuspkg', version: '2.0', kind: 'wheel' });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function counts(server: TestServer) {
  const db = server.services.db;
  const n = async (table: 'files' | 'releases' | 'burned_filenames' | 'blob_intents') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { files: await n('files'), releases: await n('releases'), burned: await n('burned_filenames'), intents: await n('blob_intents') };
}

async function setStatus(server: TestServer, status: string, reason?: string) {
  const args = ['admin', 'project', 'status', 'StatusPkg', status, '--data-dir', server.dataDir, '--database-url', server.config.databaseUrl];
  if (reason !== undefined) args.push('--reason', reason);
  const result = await runCairn(args);
  assert.equal(result.status, 0, result.output);
  // The server learns of a change made by another process from the page journal, polled every
  // CAIRN_PAGE_POLL_MS (250 ms): a page read fresh may show it before a cached one is dropped.
  await simpleJson(server, (body) => statusOf(body)?.status === status);
  await new Promise((r) => setTimeout(r, 3 * server.config.pagePollMs));
  return result;
}

/** The admin command runs in another process: the server learns of it through the page journal. */
async function simpleJson(server: TestServer, until: (body: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {};
  for (let attempt = 0; attempt < 100; attempt++) {
    const response = await fetch(`${server.url}/simple/statuspkg/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
    body = (await response.json()) as Record<string, unknown>;
    if (until(body)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`the page never changed: ${JSON.stringify(body)}`);
}

const statusOf = (body: Record<string, unknown>) => body['project-status'] as { status: string; reason?: string } | undefined;

for (const { engine, skip } of await testEngines()) {
  describe(`PEP 792 project status on ${engine}`, { skip }, () => {
    let server: TestServer;
    let auth: string;
    let fileUrl: string;

    before(async () => {
      server = await startTestServer(engine);
      auth = basicAuth(await server.token('new_projects'));
      assert.equal((await uploadFile(server.url, wheel.path, auth)).status, 200);
      const page = await simpleJson(server, () => true);
      fileUrl = ((page.files as { url: string }[])[0]!).url;
      if (fileUrl.startsWith('/')) fileUrl = `${server.url}${fileUrl}`;
    });
    after(async () => server?.stop());

    test('a project is active until the operator says otherwise, in PEP 691 JSON 1.4', async () => {
      const body = await simpleJson(server, () => true);
      assert.deepEqual((body.meta as Record<string, unknown>)['api-version'], '1.4');
      assert.deepEqual(statusOf(body), { status: 'active' });
      const html = await (await fetch(`${server.url}/simple/statuspkg/`)).text();
      assert.match(html, /<meta name="pypi:project-status" content="active">/);
      assert.doesNotMatch(html, /pypi:project-status-reason/);
    });

    test('unknown statuses are refused by the command', async () => {
      const result = await runCairn(['admin', 'project', 'status', 'statuspkg', 'frozen', '--data-dir', server.dataDir, '--database-url', server.config.databaseUrl]);
      assert.equal(result.status, 2, result.output);
      assert.match(result.output, /usage\.invalid_argument/);
    });

    test('deprecated: shown everywhere with its reason, uploads still accepted', async () => {
      await setStatus(server, 'deprecated', 'use <newpkg> instead');
      const body = await simpleJson(server, (b) => statusOf(b)?.status === 'deprecated');
      assert.deepEqual(statusOf(body), { status: 'deprecated', reason: 'use <newpkg> instead' });
      const html = await (await fetch(`${server.url}/simple/statuspkg/`)).text();
      assert.match(html, /<meta name="pypi:project-status" content="deprecated">/);
      assert.match(html, /<meta name="pypi:project-status-reason" content="use &lt;newpkg&gt; instead">/);
      const api = (await (await fetch(`${server.url}/pypi/statuspkg/json`)).json()) as Record<string, unknown>;
      assert.deepEqual(api['project-status'], { status: 'deprecated', reason: 'use <newpkg> instead' });
      const ui = await (await fetch(`${server.url}/project/statuspkg/`)).text();
      assert.match(ui, /data-project-status="deprecated"/);
      assert.match(ui, /use &lt;newpkg&gt; instead/);
      assert.equal((await uploadFile(server.url, sdist.path, auth)).status, 200, 'PEP 792: deprecated means the same as active for the index');
    });

    test('archived: new files refused with a code, nothing stored, existing files still served', async () => {
      await setStatus(server, 'archived', 'finished');
      await simpleJson(server, (b) => statusOf(b)?.status === 'archived');
      const before = await counts(server);
      const refused = await uploadFile(server.url, next.path, auth);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'upload.project_archived');
      assert.match(refused.body.message ?? '', /archived \(finished\)/);
      assert.deepEqual(await counts(server), before, 'a refused upload leaves no row, burned name or intent');
      assert.equal((await fetch(fileUrl)).status, 200, 'PEP 792: an archived project keeps serving its files');
      // an identical re-upload adds nothing (twine --skip-existing), so it is not refused
      assert.equal((await uploadFile(server.url, wheel.path, auth)).status, 200);
    });

    test('quarantined: no uploads, no downloads, hidden from the root; the page answers with the status and no files', async () => {
      await setStatus(server, 'quarantined', 'malware found');
      const body = await simpleJson(server, (b) => statusOf(b)?.status === 'quarantined');
      assert.deepEqual(body.files, []);
      assert.deepEqual(body.versions, []);
      assert.deepEqual(statusOf(body), { status: 'quarantined', reason: 'malware found' });

      const before = await counts(server);
      const refused = await uploadFile(server.url, next.path, auth);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'upload.project_quarantined');
      assert.match(refused.body.message ?? '', /quarantined/);
      assert.deepEqual(await counts(server), before);

      const download = await fetch(fileUrl);
      assert.equal(download.status, 403);
      assert.equal(((await download.json()) as { code: string }).code, 'file.quarantined');
      assert.equal((await fetch(`${fileUrl}.metadata`)).status, 403);

      const root = (await (await fetch(`${server.url}/simple/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { projects: { name: string }[] };
      assert.ok(!root.projects.some((p) => p.name.toLowerCase() === 'statuspkg'), JSON.stringify(root));
      assert.doesNotMatch(await (await fetch(`${server.url}/simple/`)).text(), /statuspkg/i);

      const api = (await (await fetch(`${server.url}/pypi/statuspkg/json`)).json()) as Record<string, unknown>;
      assert.deepEqual(api.urls, []);
      assert.deepEqual(Object.values(api.releases as Record<string, unknown[]>).flat(), []);
      const ui = await (await fetch(`${server.url}/project/statuspkg/`)).text();
      assert.match(ui, /data-project-status="quarantined"/);
      assert.doesNotMatch(ui, /pip install/);
      const release = await (await fetch(`${server.url}/project/statuspkg/1.0/`)).text();
      assert.match(release, /data-project-status="quarantined"/);
      assert.doesNotMatch(release, /href="[^"]*\/files\//, 'no download links for files that are not served');

      // TUF lists the page as it is now (pages rendered on write reach the targets in the same transaction)
      const page = Buffer.from(await (await fetch(`${server.url}/simple/statuspkg/index.json`)).arrayBuffer());
      const target = await server.services.db.selectFrom('tuf_targets').select(['sha256', 'length']).where('path', '=', 'simple/statuspkg/index.json').executeTakeFirstOrThrow();
      assert.equal(target.sha256, sha256(page));
      assert.match(page.toString(), /quarantined/);
    });

    test('active again: back in the root, files served, uploads accepted', async () => {
      const result = await setStatus(server, 'active');
      assert.match(result.stdout, /is now active/);
      const body = await simpleJson(server, (b) => statusOf(b)?.status === 'active');
      assert.equal((body.files as unknown[]).length, 2);
      assert.equal((await fetch(fileUrl)).status, 200);
      const root = await (await fetch(`${server.url}/simple/`)).text();
      assert.match(root, /statuspkg/i);
      assert.match(await (await fetch(`${server.url}/project/statuspkg/1.0/`)).text(), /href="[^"]*\/files\//);
      assert.equal((await uploadFile(server.url, next.path, auth)).status, 200);
    });
  });
}

describe('release closing', () => {
  let server: TestServer;
  let auth: string;
  let now = new Date('2026-06-01T00:00:00Z');
  const closing = makeDistribution(work, { name: 'closingpkg', version: '1.0', kind: 'wheel' });
  const late = makeDistribution(work, { name: 'closingpkg', version: '1.0', kind: 'sdist' });
  const fresh = makeDistribution(work, { name: 'closingpkg', version: '1.1', kind: 'wheel' });
  const freshSdist = makeDistribution(work, { name: 'closingpkg', version: '1.1', kind: 'sdist' });

  before(async () => {
    server = await startTestServer('sqlite', { releaseCloseDays: 14, devTrust: true }, { clock: () => now });
    auth = basicAuth(await server.token('new_projects'));
    assert.equal((await uploadFile(server.url, closing.path, auth)).status, 200);
  });
  after(async () => server?.stop());

  test('a file added to a release after the closing age is refused with a code naming the age; within it, accepted', async () => {
    now = new Date('2026-06-15T00:00:00Z');
    const before = await counts(server);
    const refused = await uploadFile(server.url, late.path, auth);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'upload.release_closed');
    assert.match(refused.body.message ?? '', /closed for new files after 14 days/);
    assert.deepEqual(await counts(server), before, 'nothing stored, the filename not burned');

    assert.equal((await uploadFile(server.url, fresh.path, auth)).status, 200, 'a new release is open');
    now = new Date('2026-06-28T23:59:00Z');
    assert.equal((await uploadFile(server.url, freshSdist.path, auth)).status, 200, 'within 14 days of its creation a release takes files');
  });

  test('provenance may still be bound to a file of a closed release', async () => {
    now = new Date();
    const provided = await provideBuildProvenance(server, closing.path);
    assert.equal(provided.submitted.status, 200, JSON.stringify(provided.submitted.body));
    const integrity = await fetch(`${server.url}/integrity/closingpkg/1.0/${closing.filename}/provenance`);
    assert.equal(integrity.status, 200);
  });
});

describe('publishing sessions honour the status and the closing age', () => {
  let server: TestServer;
  let auth: string;
  const UPLOAD_V2 = 'application/vnd.pypi.upload.v2+json';
  const first = makeDistribution(work, { name: 'sesspkg', version: '1.0', kind: 'wheel' });
  const staged = makeDistribution(work, { name: 'sesspkg', version: '2.0', kind: 'wheel' });

  before(async () => {
    server = await startTestServer('sqlite', { releaseCloseDays: 14 });
    auth = basicAuth(await server.token('new_projects'));
    assert.equal((await uploadFile(server.url, first.path, auth)).status, 200);
  });
  after(async () => server?.stop());

  async function createSession(version: string) {
    const response = await fetch(`${server.url}/_/sessions/`, {
      method: 'POST',
      headers: { 'content-type': UPLOAD_V2, authorization: auth },
      body: JSON.stringify({ meta: { 'api-version': '2.0' }, name: 'sesspkg', version }),
    });
    return { status: response.status, body: (await response.json()) as { code?: string; links: { session: string; publish: string } } };
  }

  test('a project archived while files were staged: publish refused with the code, nothing public; no new session', async () => {
    const session = await createSession('2.0');
    assert.equal(session.status, 201, JSON.stringify(session.body));
    assert.equal((await uploadFile(session.body.links.session, staged.path, auth)).status, 200);
    await server.services.index.setProjectStatus('sesspkg', 'archived', null, new Date());

    const published = await fetch(session.body.links.publish, { method: 'POST', headers: { authorization: auth } });
    assert.equal(published.status, 400);
    assert.equal(((await published.json()) as { code: string }).code, 'upload.project_archived');
    assert.equal(await server.services.index.fileByName(staged.filename), undefined, 'nothing made public');

    const refused = await createSession('3.0');
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'upload.project_archived');
    await server.services.index.setProjectStatus('sesspkg', 'active', null, new Date());
  });

  test('a session for a closed release is refused at once', async () => {
    const closed = await server.services.db.updateTable('releases').set({ created_at: '2020-01-01T00:00:00.000Z' }).where('version', '=', '1.0').execute();
    assert.equal(Number(closed[0]!.numUpdatedRows), 1);
    const refused = await createSession('1.0');
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'upload.release_closed');
  });
});
