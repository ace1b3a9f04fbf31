import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadServerConfig } from '../../src/server/config.ts';
import { startServer, type RunningServer } from '../../src/server/http/server.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { skipUnless } from '../support/requirements.ts';
import { basicAuth } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * A disk that fills during an upload (issue 11, item 8): the index's data directory is a small
 * tmpfs, so the write fails with a real ENOSPC from the kernel. The client did nothing wrong: 507
 * `storage.full`, and nothing of the upload stays behind.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-full-'));
const mountPoint = join(work, 'small-disk');
mkdirSync(mountPoint);

function mountSmallDisk(): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const mounted = mountSmallDisk();
after(() => {
  if (mounted) execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => statSync(join(dir, p)).isFile());
}

describe('the disk fills during an upload', { skip: skipUnless(mounted, 'mount -t tmpfs (root, for a small real file system)') }, () => {
  let server: RunningServer;
  before(async () => {
    const dataDir = join(mountPoint, 'data');
    // The database lives elsewhere: only the blob store's disk is full.
    const config = loadServerConfig({ dataDir, port: 0, databaseUrl: `sqlite:${join(work, 'db', 'cairn.sqlite')}` }, {});
    server = await startServer(config);
  });
  after(async () => server?.close());

  test('an upload larger than the free space is answered 507 storage.full, leaves nothing behind, and the next upload that fits goes in', async () => {
    const auth = basicAuth((await server.services.tokens.create({ scope: 'new_projects', projects: [], now: new Date() })).token);
    const blobsBefore = filesUnder(join(mountPoint, 'data', 'blobs'));
    const big = makeDistribution(work, { name: 'too-big', version: '1.0', kind: 'wheel', randomBytes: 3 * 1024 * 1024 });
    const refused = await uploadFile(server.url, big.path, auth);
    assert.equal(refused.status, 507, JSON.stringify(refused));
    assert.equal(refused.body.code, 'storage.full');
    assert.deepEqual(readdirSync(join(mountPoint, 'data', 'tmp')), [], 'the partial upload stayed on the full disk');
    assert.deepEqual(filesUnder(join(mountPoint, 'data', 'blobs')), blobsBefore);
    const db = server.services.db;
    assert.equal((await db.selectFrom('files').selectAll().execute()).length, 0);
    assert.equal((await db.selectFrom('projects').selectAll().execute()).length, 0);
    assert.equal((await db.selectFrom('blob_intents').selectAll().execute()).length, 0);

    const small = makeDistribution(work, { name: 'fits', version: '1.0', kind: 'wheel' });
    const accepted = await uploadFile(server.url, small.path, auth);
    assert.equal(accepted.status, 200, JSON.stringify(accepted));
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('/healthz reports the blob store down (503) while its disk is full, and up again once there is room', async () => {
    const filler = join(mountPoint, 'filler');
    const fd = openSync(filler, 'w');
    try {
      const block = Buffer.alloc(64 * 1024);
      for (;;) writeSync(fd, block);
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
    try {
      const full = await fetch(`${server.url}/healthz`);
      const report = (await full.json()) as { status: string; database: { status: string }; blobs: { status: string; error?: string } };
      assert.equal(full.status, 503);
      assert.equal(report.database.status, 'ok');
      assert.equal(report.blobs.status, 'down');
      assert.match(report.blobs.error ?? '', /ENOSPC/);
      assert.equal((await fetch(`${server.url}/livez`)).status, 200);
    } finally {
      rmSync(filler);
    }
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});
