import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openServices } from '../../src/server/composition.ts';
import { loadServerConfig } from '../../src/server/config.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { encodeMultipart, twineFields } from '../support/multipart.ts';
import { basicAuth, testEngines } from '../support/server.ts';
import { createTestDatabase } from '../support/postgres.ts';

/**
 * SIGKILL in the middle of a large upload must leave nothing behind: no partial file, no orphan
 * blob, no orphan row; after a restart the same upload succeeds.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'cairn-crash-'));
after(() => rmSync(work, { recursive: true, force: true }));

function files(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
  } catch {
    return [];
  }
}

async function startChild(dataDir: string, databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cairn.mjs'), 'serve', '--quiet', '--port', '0', '--data-dir', dataDir, '--database-url', databaseUrl], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // One instance owns this database: recovery need not wait for another to commit.
    env: { ...process.env, CAIRN_RECOVERY_GRACE_SECONDS: '0' },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
  return { child, url };
}

async function rowCounts(dataDir: string, databaseUrl: string) {
  const services = await openServices(loadServerConfig({ dataDir, databaseUrl }, {}));
  try {
    return { ...(await services.index.counts()), intents: (await services.db.selectFrom('blob_intents').selectAll().execute()).length };
  } finally {
    await services.close();
  }
}

for (const { engine, skip } of await testEngines()) {
  describe(`crash safety on ${engine}`, { skip }, () => {
    test('SIGKILL mid-upload leaves no trace and the upload then succeeds', async () => {
      const dataDir = mkdtempSync(join(work, 'data-'));
      const database = engine === 'postgres' ? await createTestDatabase() : null;
      const databaseUrl = database?.url ?? `sqlite:${join(dataDir, 'cairn.sqlite')}`;
      try {
        const services = await openServices(loadServerConfig({ dataDir, databaseUrl }, {}));
        const { token } = await services.tokens.create({ scope: 'new_projects', now: new Date() });
        await services.close();

        // A 40 MiB wheel whose payload does not compress, so the stream takes a while.
        const dist = makeDistribution(work, { name: `crashpkg-${engine}`, version: '1.0', kind: 'wheel', payload: `# ${'x'.repeat(16)}\n` });
        const padding = Buffer.alloc(40 * 1024 * 1024, 7);
        const bytes = Buffer.concat([dist.bytes]);
        const { body, contentType } = encodeMultipart([
          ...twineFields({ name: `crashpkg-${engine}`, version: '1.0', filetype: 'bdist_wheel', sha256: createHash('sha256').update(bytes).digest('hex') }),
          { name: 'content', filename: dist.filename, data: Buffer.concat([bytes, padding]) },
        ]);

        const first = await startChild(dataDir, databaseUrl);
        await new Promise<void>((resolve) => {
          const req = request(`${first.url}/legacy/`, {
            method: 'POST',
            headers: { 'Content-Type': contentType, 'Content-Length': body.length, Authorization: basicAuth(token) },
          });
          req.on('error', () => resolve());
          req.on('response', () => resolve());
          // Send a third of the body, then kill the server while it is still receiving.
          req.write(body.subarray(0, Math.floor(body.length / 3)), () => {
            setTimeout(() => {
              assert.ok(files(join(dataDir, 'tmp')).length > 0, 'the upload was in progress (temp file exists)');
              first.child.kill('SIGKILL');
              first.child.once('exit', () => {
                req.destroy();
                resolve();
              });
            }, 300);
          });
        });

        // Restart: recovery removes the partial temp file; nothing reached the blob store or DB.
        const second = await startChild(dataDir, databaseUrl);
        try {
          assert.deepEqual(files(join(dataDir, 'tmp')), [], 'no partial file');
          assert.deepEqual(files(join(dataDir, 'blobs')), [], 'no orphan blob');
          assert.deepEqual(await rowCounts(dataDir, databaseUrl), { projects: 0, releases: 0, files: 0, attestations: 0, intents: 0 }, 'no orphan row');

          const good = encodeMultipart([
            ...twineFields({ name: `crashpkg-${engine}`, version: '1.0', filetype: 'bdist_wheel', sha256: createHash('sha256').update(dist.bytes).digest('hex') }),
            { name: 'content', filename: dist.filename, data: dist.bytes },
          ]);
          const response = await fetch(`${second.url}/legacy/`, {
            method: 'POST',
            body: good.body,
            headers: { 'Content-Type': good.contentType, Authorization: basicAuth(token) },
          });
          assert.equal(response.status, 200, await response.text());
          const download = await fetch(`${second.url}/files/${createHash('sha256').update(dist.bytes).digest('hex')}/${dist.filename}`);
          assert.equal(download.status, 200);
          assert.deepEqual(Buffer.from(await download.arrayBuffer()), dist.bytes);
        } finally {
          second.child.kill('SIGKILL');
        }
      } finally {
        await database?.drop();
      }
    });

    test('a blob renamed into place whose transaction never committed is removed at start-up', async () => {
      const dataDir = mkdtempSync(join(work, 'data-'));
      const database = engine === 'postgres' ? await createTestDatabase() : null;
      const databaseUrl = database?.url ?? `sqlite:${join(dataDir, 'cairn.sqlite')}`;
      try {
        // The state a SIGKILL between "blob committed" and "row committed" leaves.
        const services = await openServices(loadServerConfig({ dataDir, databaseUrl }, {}));
        const digest = createHash('sha256').update('orphan').digest('hex');
        await services.db.insertInto('blob_intents').values({ sha256: digest, created_at: new Date().toISOString() }).execute();
        await services.close();
        const blobDir = join(dataDir, 'blobs', 'sha256', digest.slice(0, 2), digest.slice(2, 4));
        mkdirSync(blobDir, { recursive: true });
        writeFileSync(join(blobDir, digest), 'orphan');

        const server = await startChild(dataDir, databaseUrl);
        server.child.kill('SIGKILL');
        assert.deepEqual(files(join(dataDir, 'blobs')), []);
        assert.equal((await rowCounts(dataDir, databaseUrl)).intents, 0);
      } finally {
        await database?.drop();
      }
    });
  });
}
