import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeDistribution, type DistSpec } from '../support/dist-factory.ts';
import { encodeMultipart, twineFields, type Part } from '../support/multipart.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';

/**
 * Every way an upload can be wrong is refused with a precise code, and leaves no trace: no row,
 * no blob, no temp file, no burned filename.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-rej-'));
after(() => rmSync(work, { recursive: true, force: true }));

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

async function storedState(server: TestServer) {
  const db = server.services.db;
  const count = async (table: 'projects' | 'releases' | 'files' | 'burned_filenames' | 'blob_intents') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return {
    projects: await count('projects'),
    releases: await count('releases'),
    files: await count('files'),
    burned: await count('burned_filenames'),
    intents: await count('blob_intents'),
    blobs: listFiles(join(server.dataDir, 'blobs')).length,
    temp: listFiles(join(server.dataDir, 'tmp')).length,
  };
}

async function post(server: TestServer, parts: Part[], auth: string | null, raw?: { body: Buffer; contentType: string }) {
  const encoded = raw ?? encodeMultipart(parts);
  const headers: Record<string, string> = { 'Content-Type': encoded.contentType };
  if (auth) headers.Authorization = auth;
  const response = await fetch(`${server.url}/legacy/`, { method: 'POST', body: encoded.body, headers });
  const text = await response.text();
  let body: { code?: string; message?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // non-JSON bodies are asserted through status alone
  }
  return { status: response.status, reason: response.statusText, body };
}

function uploadParts(dist: { filename: string; bytes: Buffer }, meta: Partial<DistSpec> & { name: string; version: string }, overrides: { sha256?: string; md5?: string; filename?: string } = {}): Part[] {
  return [
    ...twineFields({
      name: meta.name,
      version: meta.version,
      filetype: dist.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
      sha256: overrides.sha256 ?? sha256(dist.bytes),
      md5: overrides.md5 ?? md5(dist.bytes),
    }),
    { name: 'content', filename: overrides.filename ?? dist.filename, data: dist.bytes },
  ];
}

const good = makeDistribution(work, { name: 'goodpkg', version: '1.0', kind: 'wheel' });
const goodSdist = makeDistribution(work, { name: 'goodpkg', version: '1.0', kind: 'sdist' });
const other = makeDistribution(work, { name: 'otherpkg', version: '2.0', kind: 'wheel' });
const latin1 = makeDistribution(work, { name: 'latinpkg', version: '1.0', kind: 'wheel', summary: 'caf\u00e9', metadataEncoding: 'latin-1' });
const bomb = makeDistribution(work, { name: 'bombpkg', version: '1.0', kind: 'wheel', pad: 64 * 1024 * 1024 });
const large = makeDistribution(work, { name: 'largepkg', version: '1.0', kind: 'wheel', payload: `x = """${'y'.repeat(10)}"""\n` });

for (const { engine, skip } of await testEngines()) {
  describe(`upload rejections on ${engine}`, { skip }, () => {
    let server: TestServer;
    let auth: string;
    let empty: Awaited<ReturnType<typeof storedState>>;

    before(async () => {
      server = await startTestServer(engine, { maxUploadBytes: 256 * 1024 });
      auth = basicAuth(await server.token('new_projects'));
      empty = await storedState(server);
    });
    after(async () => server?.stop());

    const refused = async (
      label: string,
      parts: Part[],
      expected: { status: number; code: string },
      options: { auth?: string | null; raw?: { body: Buffer; contentType: string } } = {},
    ) => {
      const result = await post(server, parts, options.auth === undefined ? auth : options.auth, options.raw);
      assert.equal(result.status, expected.status, `${label}: ${JSON.stringify(result)}`);
      assert.equal(result.body.code, expected.code, `${label}: ${JSON.stringify(result.body)}`);
      assert.ok(result.reason.length > 10, `${label}: twine shows the reason phrase, got '${result.reason}'`);
      assert.deepEqual(await storedState(server), empty, `${label}: nothing stored`);
      return result;
    };

    test('malformed multipart', async () => {
      await refused('garbage body', [], { status: 400, code: 'upload.malformed' }, {
        raw: { body: Buffer.from('--zzz\r\nnot a header\r\n\r\nxx'), contentType: 'multipart/form-data; boundary=zzz' },
      });
      await refused('not multipart', [], { status: 400, code: 'upload.malformed' }, {
        raw: { body: Buffer.from('name=x'), contentType: 'multipart/form-data' },
      });
    });

    test('missing fields and missing file', async () => {
      const parts = uploadParts(good, { name: 'goodpkg', version: '1.0' });
      await refused('no name', parts.filter((p) => p.name !== 'name'), { status: 400, code: 'upload.missing_field' });
      await refused('no version', parts.filter((p) => p.name !== 'version'), { status: 400, code: 'upload.missing_field' });
      await refused('no content', parts.filter((p) => p.name !== 'content'), { status: 400, code: 'upload.missing_field' });
      await refused('no action', parts.filter((p) => p.name !== ':action'), { status: 400, code: 'upload.missing_field' });
    });

    test('wrong digests', async () => {
      await refused('sha256', uploadParts(good, { name: 'goodpkg', version: '1.0' }, { sha256: 'a'.repeat(64) }), { status: 400, code: 'upload.digest_mismatch' });
      await refused('md5', uploadParts(good, { name: 'goodpkg', version: '1.0' }, { md5: 'b'.repeat(32) }), { status: 400, code: 'upload.digest_mismatch' });
      await refused('not hex', uploadParts(good, { name: 'goodpkg', version: '1.0' }, { sha256: 'xyz' }), { status: 400, code: 'upload.malformed' });
    });

    test('filename, project and version mismatches; invalid names and versions', async () => {
      await refused('other project', uploadParts(other, { name: 'goodpkg', version: '2.0' }), { status: 400, code: 'upload.filename_mismatch' });
      await refused('other version', uploadParts(good, { name: 'goodpkg', version: '1.1' }), { status: 400, code: 'upload.filename_mismatch' });
      await refused('invalid name', uploadParts(good, { name: '-goodpkg-', version: '1.0' }), { status: 400, code: 'name.invalid' });
      await refused('invalid version', uploadParts(good, { name: 'goodpkg', version: '1.0-foo-bar' }), { status: 400, code: 'version.invalid' });
      const wrongType = uploadParts(good, { name: 'goodpkg', version: '1.0' }).map((p) => (p.name === 'filetype' ? { name: 'filetype', value: 'sdist' } : p));
      await refused('filetype', wrongType, { status: 400, code: 'upload.filename_mismatch' });
    });

    test('path traversal and separators in filenames', async () => {
      for (const filename of ['../goodpkg-1.0-py3-none-any.whl', 'sub/goodpkg-1.0-py3-none-any.whl', 'sub\\goodpkg-1.0-py3-none-any.whl', '/etc/goodpkg-1.0-py3-none-any.whl', 'goodpkg-1.0-py3-none-any.exe']) {
        await refused(filename, uploadParts(good, { name: 'goodpkg', version: '1.0' }, { filename }), { status: 400, code: 'filename.invalid' });
      }
    });

    test('over-size upload', async () => {
      const huge = { filename: large.filename, bytes: Buffer.concat([large.bytes, Buffer.alloc(300 * 1024)]) };
      await refused('over limit', uploadParts(huge, { name: 'largepkg', version: '1.0' }), { status: 413, code: 'upload.too_large' });
    });

    test('truncated, corrupt and bomb archives', async () => {
      const truncated = { filename: good.filename, bytes: good.bytes.subarray(0, Math.floor(good.bytes.length / 2)) };
      await refused('truncated wheel', uploadParts(truncated, { name: 'goodpkg', version: '1.0' }), { status: 400, code: 'upload.invalid_archive' });
      const truncatedSdist = { filename: goodSdist.filename, bytes: goodSdist.bytes.subarray(0, goodSdist.bytes.length - 40) };
      await refused('truncated sdist', uploadParts(truncatedSdist, { name: 'goodpkg', version: '1.0' }), { status: 400, code: 'upload.invalid_archive' });
      const corrupt = { filename: good.filename, bytes: Buffer.from(good.bytes.map((b, i) => (i > 40 && i < 200 ? b ^ 0xff : b))) };
      await refused('corrupt wheel', uploadParts(corrupt, { name: 'goodpkg', version: '1.0' }), { status: 400, code: 'upload.invalid_archive' });
      assert.ok(bomb.bytes.length < 256 * 1024, 'the bomb is small on the wire');
      await refused('zip bomb', uploadParts(bomb, { name: 'bombpkg', version: '1.0' }), { status: 400, code: 'upload.invalid_archive' });
      await refused('metadata not UTF-8', uploadParts(latin1, { name: 'latinpkg', version: '1.0' }), { status: 400, code: 'upload.invalid_archive' });
    });

    test('authentication: missing, wrong, scoped to another project', async () => {
      const parts = uploadParts(good, { name: 'goodpkg', version: '1.0' });
      await refused('no auth', parts, { status: 401, code: 'auth.missing' }, { auth: null });
      await refused('unknown token', parts, { status: 403, code: 'auth.invalid_token' }, { auth: basicAuth('cairn-not-a-real-token') });
      await refused('password login', parts, { status: 403, code: 'auth.invalid_token' }, { auth: `Basic ${Buffer.from('alice:secret').toString('base64')}` });
      const scoped = basicAuth(await server.token('projects', ['otherpkg']));
      await refused('other project token', parts, { status: 403, code: 'auth.forbidden' }, { auth: scoped });
      const leaked = await server.services.tokens.create({ scope: 'new_projects', now: new Date() });
      await server.services.tokens.revoke(leaked.tokenId, new Date());
      const revoked = await refused('revoked token', parts, { status: 403, code: 'auth.invalid_token' }, { auth: basicAuth(leaked.token) });
      assert.match(revoked.reason, /has been revoked/);
    });

    test('a different file under an existing filename is refused; a deleted filename stays burned', async () => {
      const first = await post(server, uploadParts(good, { name: 'goodpkg', version: '1.0' }), auth);
      assert.equal(first.status, 200, JSON.stringify(first));
      const same = await post(server, uploadParts(good, { name: 'goodpkg', version: '1.0' }), auth);
      assert.equal(same.status, 200, 'identical re-upload is accepted');
      const rebuilt = makeDistribution(mkdtempSync(join(work, 'b-')), { name: 'goodpkg', version: '1.0', kind: 'wheel', payload: 'x = 2\n' });
      const clash = await post(server, uploadParts(rebuilt, { name: 'goodpkg', version: '1.0' }), auth);
      assert.equal(clash.status, 400);
      assert.equal(clash.body.code, 'upload.file_exists');

      const removed = await server.services.index.deleteRelease('goodpkg', '1.0');
      for (const digest of removed.orphanedBlobs) await server.services.blobs.remove(digest);
      const again = await post(server, uploadParts(good, { name: 'goodpkg', version: '1.0' }), auth);
      assert.equal(again.status, 400);
      assert.equal(again.body.code, 'upload.filename_reused');
      const state = await storedState(server);
      assert.equal(state.files, 0);
      assert.equal(state.blobs, 0);
      assert.equal(state.burned, 1);
    });
  });
}
