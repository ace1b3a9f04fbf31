import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { devTrustBase, provideBuildProvenance } from '../support/provenance.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * Publishing sessions (issue 15, PEP 694 draft) over HTTP as a client drives them: staged files
 * are invisible everywhere public until the one publish, which refuses with what is missing;
 * every refusal leaves nothing public.
 */
const UPLOAD_V2 = 'application/vnd.pypi.upload.v2+json';
const work = mkdtempSync(join(tmpdir(), 'cairn-sessions-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface SessionBody {
  links: { session: string; stage: string; upload: string; publish: string };
  'session-token': string;
  'expires-at': string;
  status: string;
  files: Record<string, { sha256: string; 'build-provenance': boolean }>;
  missing: { filename: string; missing: string }[];
  code?: string;
  details?: { missing?: { filename: string; missing: string }[] };
}

/** A clock the test moves: sessions expire without waiting a day. */
const clock = { offsetMs: 0, now: () => new Date(Date.now() + clock.offsetMs) };

for (const { engine, skip } of await testEngines()) {
  describe(`publishing sessions over HTTP (${engine})`, { skip }, () => {
    let server: TestServer;
    let auth: string;
    before(async () => {
      server = await startTestServer(engine, { devTrust: true, sessionTtlSeconds: 3600, pendingProvenanceTtlSeconds: 600 }, { clock: clock.now });
      auth = basicAuth(await server.token('new_projects'));
    });
    after(async () => server?.stop());

    async function createSession(body: Record<string, unknown>, authorization = auth): Promise<{ status: number; body: SessionBody; location: string | null }> {
      const response = await fetch(`${server.url}/_/sessions/`, {
        method: 'POST',
        headers: { 'content-type': UPLOAD_V2, authorization },
        body: JSON.stringify({ meta: { 'api-version': '2.0' }, ...body }),
      });
      return { status: response.status, body: (await response.json()) as SessionBody, location: response.headers.get('location') };
    }
    async function call(method: string, url: string, authorization = auth): Promise<{ status: number; body: SessionBody }> {
      const response = await fetch(url, { method, headers: { authorization } });
      return { status: response.status, body: (await response.json()) as SessionBody };
    }
    /** The session's upload URL is a twine-compatible `/legacy/` under the session. */
    const stage = (session: SessionBody, path: string, authorization = auth) => uploadFile(session.links.session, path, authorization);

    /** Everything public that could show a file: simple page, root, JSON API, web UI, TUF targets, feeds, rows. */
    async function publicTraces(project: string, filename: string) {
      const version = /^[^-]+-([^-]+?)(?:-py3-none-any\.whl|\.tar\.gz)$/.exec(filename)![1];
      const uiRelease = await fetch(`${server.url}/project/${project}/${version}/`);
      const simple = await fetch(`${server.url}/simple/${project}/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } });
      const root = await (await fetch(`${server.url}/simple/`)).text();
      const json = await fetch(`${server.url}/pypi/${project}/json`);
      const feed = await (await fetch(`${server.url}/rss/updates.xml`)).text();
      const tuf = await server.services.db.selectFrom('tuf_targets').select('path').where('path', 'like', `%${filename}%`).execute();
      const files = await server.services.db.selectFrom('files').select('id').where('filename', '=', filename).execute();
      return {
        simpleListsFile: simple.status === 200 && (await simple.text()).includes(filename),
        rootListsProject: root.includes(`href="${project}/"`),
        jsonApi: json.status,
        uiListsFile: uiRelease.status === 200 && (await uiRelease.text()).includes(filename),
        feedMentions: feed.includes(project),
        tufTargets: tuf.length,
        fileRows: files.length,
      };
    }
    const invisible = { simpleListsFile: false, rootListsProject: false, jsonApi: 404, uiListsFile: false, feedMentions: false, tufTargets: 0, fileRows: 0 };

    test('create, stage, preview, publish: nothing public before the publish, everything after it', async () => {
      const wheel = makeDistribution(work, { name: 'staged-one', version: '1.0', kind: 'wheel' });
      const sdist = makeDistribution(work, { name: 'staged-one', version: '1.0', kind: 'sdist' });
      const created = await createSession({ name: 'staged-one', version: '1.0', files: [wheel.filename, sdist.filename] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.location, created.body.links.session);
      assert.equal(created.body.status, 'pending');
      assert.match(created.body['session-token'], /^[A-Za-z0-9_-]{43}$/);

      for (const dist of [wheel, sdist]) {
        const answer = await stage(created.body, dist.path);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.status, 'staged');
      }
      assert.deepEqual(await publicTraces('staged-one', wheel.filename), invisible);
      assert.match(await (await fetch(`${server.url}/metrics`)).text(), /\ncairn_publishing_sessions 1\n/);

      const stageJson = (await (await fetch(`${created.body.links.stage}staged-one/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as {
        files: { filename: string; url: string }[];
      };
      assert.deepEqual(stageJson.files.map((f) => f.filename).sort(), [sdist.filename, wheel.filename].sort());
      const download = await fetch(new URL(stageJson.files.find((f) => f.filename === wheel.filename)!.url, server.url));
      assert.equal(download.status, 200);
      assert.deepEqual(Buffer.from(await download.arrayBuffer()), wheel.bytes);

      const published = await call('POST', created.body.links.publish);
      assert.equal(published.status, 200, JSON.stringify(published.body));
      assert.equal(published.body.status, 'published');
      const traces = await publicTraces('staged-one', wheel.filename);
      assert.deepEqual(traces, { simpleListsFile: true, rootListsProject: true, jsonApi: 200, uiListsFile: true, feedMentions: true, tufTargets: 2, fileRows: 1 });
      const stagedRows = await server.services.db.selectFrom('session_files').select('id').execute();
      assert.equal(stagedRows.length, 0, 'staged rows moved to files');
      // The stage ends with the session.
      assert.equal((await fetch(`${created.body.links.stage}staged-one/`)).status, 409);
    });

    test('publish refuses with the list of what is missing, and changes nothing', async () => {
      const wheel = makeDistribution(work, { name: 'staged-missing', version: '1.0', kind: 'wheel' });
      const sdist = makeDistribution(work, { name: 'staged-missing', version: '1.0', kind: 'sdist' });
      const created = await createSession({ name: 'staged-missing', version: '1.0', files: [wheel.filename, sdist.filename], 'require-provenance': 'build' });
      assert.equal(created.status, 201);
      const empty = await call('POST', created.body.links.publish);
      assert.equal(empty.status, 409);
      assert.equal(empty.body.code, 'session.incomplete');
      assert.equal((await stage(created.body, wheel.path)).status, 200);

      const refused = await call('POST', created.body.links.publish);
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'session.incomplete');
      assert.deepEqual(refused.body.details?.missing, [
        { filename: sdist.filename, missing: 'file' },
        { filename: wheel.filename, missing: 'build-provenance' },
      ]);
      assert.deepEqual(await publicTraces('staged-missing', wheel.filename), invisible);

      // Build provenance submitted the builder's way binds to the staged file.
      const provided = await provideBuildProvenance(server, wheel.path);
      assert.equal(provided.submitted.status, 200, JSON.stringify(provided.submitted.body));
      assert.equal(provided.submitted.body.staged, true);
      assert.equal(provided.submitted.body.expires_at, created.body['expires-at'], 'pending provenance lives as long as the session');
      assert.equal((await stage(created.body, sdist.path)).status, 200);
      const stillRefused = await call('POST', created.body.links.publish);
      assert.deepEqual(stillRefused.body.details?.missing, [{ filename: sdist.filename, missing: 'build-provenance' }]);
      assert.equal((await provideBuildProvenance(server, sdist.path)).submitted.status, 200);

      const status = await call('GET', created.body.links.session);
      assert.equal(status.body.files[wheel.filename]!['build-provenance'], true);
      assert.deepEqual(status.body.missing, []);
      const published = await call('POST', created.body.links.publish);
      assert.equal(published.status, 200, JSON.stringify(published.body));
      const bound = await server.services.db
        .selectFrom('attestations')
        .innerJoin('files', 'files.id', 'attestations.file_id')
        .select(['files.filename', 'attestations.kind', 'attestations.submitted_before_upload'])
        .where('files.filename', 'in', [wheel.filename, sdist.filename])
        .execute();
      assert.deepEqual(bound.map((b) => [b.kind, b.submitted_before_upload]), [['build', 1], ['build', 1]]);
      assert.equal((await server.services.db.selectFrom('pending_provenance').select('id').where('filename', 'in', [wheel.filename, sdist.filename]).execute()).length, 0);
    });

    test('a project requiring build provenance refuses a plain upload without it, and applies to its sessions', async () => {
      const first = makeDistribution(work, { name: 'strict-project', version: '1.0', kind: 'wheel' });
      assert.equal((await uploadFile(server.url, first.path, auth)).status, 200);
      const storage = ['--data-dir', server.dataDir, '--database-url', server.config.databaseUrl];
      const badKind = await runCairn(['admin', 'project', 'require-provenance', 'strict-project', 'publish', ...storage]);
      assert.equal(badKind.status, 2, badKind.output);
      const set = await runCairn(['admin', 'project', 'require-provenance', 'strict-project', 'build', ...storage]);
      assert.equal(set.status, 0, set.output);
      const second = makeDistribution(work, { name: 'strict-project', version: '1.1', kind: 'wheel' });
      const refused = await uploadFile(server.url, second.path, auth);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'upload.provenance_required');
      assert.deepEqual(await publicTraces('strict-project', second.filename), { ...invisible, rootListsProject: true, jsonApi: 200, feedMentions: true });

      const created = await createSession({ name: 'strict-project', version: '1.1' });
      assert.equal(created.status, 201);
      assert.equal((await stage(created.body, second.path)).status, 200);
      const missing = await call('POST', created.body.links.publish);
      assert.equal(missing.body.code, 'session.incomplete');
      assert.deepEqual(missing.body.details?.missing, [{ filename: second.filename, missing: 'build-provenance' }]);
      await provideBuildProvenance(server, second.path);
      assert.equal((await call('POST', created.body.links.publish)).status, 200);
    });

    test('uploads of a file already staged or already public are refused, and leave no blob', async () => {
      const wheel = makeDistribution(work, { name: 'staged-dupes', version: '1.0', kind: 'wheel' });
      const created = await createSession({ name: 'staged-dupes', version: '1.0' });
      assert.equal((await stage(created.body, wheel.path)).status, 200);
      const again = await stage(created.body, wheel.path);
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'session.file_exists');
      // The legacy upload cannot take a filename a live session holds.
      const legacy = await uploadFile(server.url, wheel.path, auth);
      assert.equal(legacy.body.code, 'upload.file_exists');
      assert.equal((await call('POST', created.body.links.publish)).status, 200);

      const next = await createSession({ name: 'staged-dupes', version: '1.0' });
      assert.equal(next.status, 201, 'a new session for a published release may add files');
      const republish = await stage(next.body, wheel.path);
      assert.equal(republish.status, 400);
      assert.equal(republish.body.code, 'upload.file_exists');
      assert.deepEqual((await call('GET', next.body.links.session)).body.files, {}, 'nothing staged');
      assert.equal((await call('DELETE', next.body.links.session)).status, 200);
    });

    test('a session used with another project\'s token is refused on every request', async () => {
      const wheel = makeDistribution(work, { name: 'staged-owned', version: '1.0', kind: 'wheel' });
      assert.equal((await uploadFile(server.url, makeDistribution(work, { name: 'staged-owned', version: '0.9', kind: 'wheel' }).path, auth)).status, 200);
      const created = await createSession({ name: 'staged-owned', version: '1.0' });
      assert.equal(created.status, 201);
      const other = basicAuth(await server.token('projects', ['some-other-project']));
      assert.equal((await createSession({ name: 'staged-owned', version: '2.0' }, other)).body.code, 'auth.forbidden');
      const upload = await stage(created.body, wheel.path, other);
      assert.equal(upload.status, 403);
      assert.equal(upload.body.code, 'auth.forbidden');
      for (const [method, url] of [['GET', created.body.links.session], ['POST', created.body.links.publish], ['DELETE', created.body.links.session]] as const) {
        const answer = await call(method, url, other);
        assert.equal(answer.status, 403, `${method} ${url}`);
        assert.equal(answer.body.code, 'auth.forbidden');
      }
      assert.equal((await call('GET', created.body.links.session, 'Basic nonsense')).body.code, 'auth.invalid_token');
      assert.equal((await call('GET', created.body.links.session, '')).body.code, 'auth.missing');
      assert.deepEqual((await call('GET', created.body.links.session)).body.files, {}, 'nothing staged');
      assert.equal((await call('DELETE', created.body.links.session)).status, 200);
    });

    test('a new name is reserved for the session\'s owner; a second session for the release answers 409 with its Location', async () => {
      const created = await createSession({ name: 'reserved-name', version: '1.0' });
      assert.equal(created.status, 201);
      const again = await createSession({ name: 'reserved-name', version: '1.0' });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'session.exists');
      assert.equal(again.location, created.body.links.session);

      const stranger = basicAuth(await server.token('new_projects'));
      const theirs = await createSession({ name: 'reserved-name', version: '2.0' }, stranger);
      assert.equal(theirs.status, 403);
      assert.equal(theirs.body.code, 'session.name_reserved');
      const squat = await uploadFile(server.url, makeDistribution(work, { name: 'reserved-name', version: '0.1', kind: 'wheel' }).path, stranger);
      assert.equal(squat.body.code, 'session.name_reserved');
      assert.equal((await call('GET', created.body.links.session, stranger)).body.code, 'auth.forbidden');
      assert.equal((await fetch(`${server.url}/simple/reserved-name/`)).status, 404, 'a reservation is not a project');

      const wheel = makeDistribution(work, { name: 'reserved-name', version: '1.0', kind: 'wheel' });
      assert.equal((await stage(created.body, wheel.path)).status, 200);
      assert.equal((await call('POST', created.body.links.publish)).status, 200);
      const owner = await server.services.db
        .selectFrom('project_owners')
        .innerJoin('projects', 'projects.id', 'project_owners.project_id')
        .select('project_owners.token_id')
        .where('projects.normalized_name', '=', 'reserved-name')
        .execute();
      assert.equal(owner.length, 1, 'the first release makes the session\'s token the owner');
    });

    test('cancel discards the staged files; a canceled or published session refuses further use', async () => {
      const wheel = makeDistribution(work, { name: 'staged-cancel', version: '1.0', kind: 'wheel' });
      const created = await createSession({ name: 'staged-cancel', version: '1.0' });
      const staged = await stage(created.body, wheel.path);
      assert.equal(staged.status, 200);
      const blob = staged.body.sha256 as string;
      assert.ok(await server.services.blobs.exists(blob));
      const canceled = await call('DELETE', created.body.links.session);
      assert.equal(canceled.status, 200);
      assert.equal(canceled.body.status, 'canceled');
      assert.ok(!(await server.services.blobs.exists(blob)), 'the staged blob is deleted');
      assert.equal((await call('POST', created.body.links.publish)).body.code, 'session.canceled');
      assert.equal((await fetch(`${created.body.links.stage}staged-cancel/`)).status, 409);
      assert.deepEqual(await publicTraces('staged-cancel', wheel.filename), invisible);

      const fresh = await createSession({ name: 'staged-cancel', version: '1.0' });
      assert.equal(fresh.status, 201);
      assert.equal((await stage(fresh.body, wheel.path)).status, 200);
      assert.equal((await call('POST', fresh.body.links.publish)).status, 200);
      const cancelPublished = await call('DELETE', fresh.body.links.session);
      assert.equal(cancelPublished.status, 409);
      assert.equal(cancelPublished.body.code, 'session.published');
      assert.equal((await publicTraces('staged-cancel', wheel.filename)).fileRows, 1, 'still public');
    });

    test('an expired session is refused, then swept: files deleted from the blob store, rows removed', async () => {
      const wheel = makeDistribution(work, { name: 'staged-expiry', version: '1.0', kind: 'wheel' });
      const created = await createSession({ name: 'staged-expiry', version: '1.0' });
      const staged = await stage(created.body, wheel.path);
      const blob = staged.body.sha256 as string;
      clock.offsetMs = 3601 * 1000;
      try {
        const late = await stage(created.body, makeDistribution(work, { name: 'staged-expiry', version: '1.0', kind: 'sdist' }).path);
        assert.equal(late.status, 410);
        assert.equal(late.body.code, 'session.expired');
        assert.equal((await call('POST', created.body.links.publish)).body.code, 'session.expired');
        assert.equal((await fetch(`${created.body.links.stage}staged-expiry/`)).status, 410);
        assert.ok((await server.services.sessions.sweepExpired()) >= 1);
        assert.ok(!(await server.services.blobs.exists(blob)), 'the staged blob is deleted');
        assert.equal((await server.services.db.selectFrom('publishing_sessions').select('id').where('token', '=', created.body['session-token']).execute()).length, 0);
        assert.equal((await call('GET', created.body.links.session)).body.code, 'session.not_found');
        assert.deepEqual(await publicTraces('staged-expiry', wheel.filename), invisible);
      } finally {
        clock.offsetMs = 0;
      }
    });

    test('publish is one transaction: a conflict on its last file leaves none of its files public and the session open', async () => {
      const wheel = makeDistribution(work, { name: 'staged-atomic', version: '1.0', kind: 'wheel' });
      const sdist = makeDistribution(work, { name: 'staged-atomic', version: '1.0', kind: 'sdist' });
      const created = await createSession({ name: 'staged-atomic', version: '1.0' });
      for (const dist of [wheel, sdist]) assert.equal((await stage(created.body, dist.path)).status, 200);
      // What a concurrent change could do between staging and publishing: the second filename gets used up.
      await server.services.db.insertInto('burned_filenames').values({ filename: sdist.filename, burned_at: new Date().toISOString() }).execute();
      const refused = await call('POST', created.body.links.publish);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'upload.file_exists');
      assert.deepEqual(await publicTraces('staged-atomic', wheel.filename), invisible, 'the first file was not left public');
      assert.equal((await server.services.db.selectFrom('releases').innerJoin('projects', 'projects.id', 'releases.project_id').select('releases.id').where('releases.version', '=', '1.0').where('projects.normalized_name', '=', 'staged-atomic').execute()).length, 0);
      const state = await call('GET', created.body.links.session);
      assert.equal(state.body.status, 'pending');
      assert.deepEqual(Object.keys(state.body.files).sort(), [sdist.filename, wheel.filename].sort(), 'both still staged');

      await server.services.db.deleteFrom('burned_filenames').where('filename', '=', sdist.filename).execute();
      assert.equal((await call('POST', created.body.links.publish)).status, 200);
      const after = await call('GET', created.body.links.session);
      assert.equal(after.body.status, 'published', 'a published session still answers its status');
      assert.equal((await publicTraces('staged-atomic', sdist.filename)).fileRows, 1);
    });

    test('cairn publish --stage --no-publish stages and prints the stage index; its usage errors exit 2', async () => {
      const wheel = makeDistribution(work, { name: 'staged-cli', version: '1.0', kind: 'wheel' });
      const token = await server.token('new_projects');
      const staged = await runCairn(['publish', '--index', server.url, '--token', token, '--stage', '--no-publish', wheel.path]);
      assert.equal(staged.status, 0, staged.output);
      const stageUrl = /stage index: (\S+)/.exec(staged.stdout)?.[1];
      const publishUrl = /POST (\S+) publishes/.exec(staged.stdout)?.[1];
      assert.ok(stageUrl && publishUrl, staged.stdout);
      assert.match(await (await fetch(`${stageUrl}staged-cli/`)).text(), new RegExp(wheel.filename.replace(/\./g, '\\.')));
      assert.deepEqual(await publicTraces('staged-cli', wheel.filename), invisible);
      assert.equal((await call('POST', publishUrl, basicAuth(token))).status, 200);
      assert.equal((await publicTraces('staged-cli', wheel.filename)).fileRows, 1);

      for (const args of [['--require-provenance', 'build'], ['--stage', '--require-provenance', 'publish'], ['--stage', '--wait', 'soon']]) {
        const refused = await runCairn(['publish', '--index', server.url, '--token', token, ...args, wheel.path]);
        assert.equal(refused.status, 2, refused.output);
        assert.match(refused.stderr, /error \[usage\.invalid_argument\]/);
      }
    });

    test('malformed creation requests are refused with session.malformed', async () => {
      assert.equal((await createSession({ name: 'x' })).body.code, 'session.malformed');
      assert.equal((await createSession({ name: 'x', version: '1', meta: { 'api-version': '3.0' } })).body.code, 'session.malformed');
      assert.equal((await createSession({ name: 'x', version: '1', 'require-provenance': 'publish' })).body.code, 'session.malformed');
      assert.equal((await createSession({ name: 'x', version: '1', files: ['y-1-py3-none-any.whl'] })).body.code, 'upload.filename_mismatch');
      assert.equal((await call('GET', `${server.url}/_/sessions/not-a-token`)).body.code, 'session.not_found');
      // A session for a new name is refused what a first upload would be refused.
      assert.equal((await createSession({ name: 'staged-0ne', version: '1' })).body.code, 'name.confusable');
      await server.services.publishers.add({ project: 'awaited-name', issuer: `${devTrustBase(server)}/oidc`, repository: 'octo-org/awaited', workflow: 'release.yml' }, new Date());
      assert.equal((await createSession({ name: 'awaited-name', version: '1' })).body.code, 'project.reserved');
      const rows = await server.services.db.selectFrom('publishing_sessions').select('id').where('normalized_name', 'in', ['x', 'staged-0ne', 'awaited-name']).execute();
      assert.equal(rows.length, 0);
    });

    test('a project archived or quarantined while files are staged takes none of them: staging and publish are refused, nothing public', async () => {
      const first = makeDistribution(work, { name: 'staged-status', version: '1.0', kind: 'wheel' });
      const opened = await createSession({ name: 'staged-status', version: '1.0' });
      assert.equal((await stage(opened.body, first.path)).status, 200);
      assert.equal((await call('POST', opened.body.links.publish)).status, 200);

      const wheel = makeDistribution(work, { name: 'staged-status', version: '1.1', kind: 'wheel' });
      const sdist = makeDistribution(work, { name: 'staged-status', version: '1.1', kind: 'sdist' });
      const created = await createSession({ name: 'staged-status', version: '1.1' });
      assert.equal((await stage(created.body, wheel.path)).status, 200);
      for (const status of ['archived', 'quarantined'] as const) {
        await server.services.index.setProjectStatus('staged-status', status, 'moved elsewhere', new Date());
        const staged = await stage(created.body, sdist.path);
        assert.equal(staged.status, 400);
        assert.equal(staged.body.code, `upload.project_${status}`);
        const refused = await call('POST', created.body.links.publish);
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.code, `upload.project_${status}`);
        const rows = await server.services.db.selectFrom('files').select('filename').where('filename', 'in', [wheel.filename, sdist.filename]).execute();
        assert.deepEqual(rows, []);
        assert.equal((await call('GET', created.body.links.session)).body.status, 'pending', 'the session stays open: the operator may set the project active again');
      }
      await server.services.index.setProjectStatus('staged-status', 'active', null, new Date());
      const published = await call('POST', created.body.links.publish);
      assert.equal(published.status, 200, JSON.stringify(published.body));
      assert.deepEqual((await publicTraces('staged-status', wheel.filename)).fileRows, 1);
    });
  });
}
