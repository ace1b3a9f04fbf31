import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isCairnError } from '../../src/errors.ts';
import { FileSystemBlobStore, type BlobStore } from '../../src/server/storage/blob-store.ts';
import { S3BlobStore } from '../../src/server/storage/s3-blob-store.ts';
import { s3Endpoint, skipUnlessS3, type S3Endpoint } from '../support/rgw.ts';
import { createBucket, emptyAndDeleteBucket, s3Location } from '../support/s3.ts';

/**
 * One contract, two stores: what the upload path, downloads, bulk import and the orphan sweep
 * rely on holds the same for files on disk and for objects in an S3-compatible bucket (a real
 * Ceph RGW here).
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-blob-contract-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

const digestsOf = (bytes: Buffer) => ({
  sha256: createHash('sha256').update(bytes).digest('hex'),
  md5: createHash('md5').update(bytes).digest('hex'),
  blake2b256: createHash('blake2b512').update(bytes).digest('hex').slice(0, 64),
});

function contract(name: string, open: () => Promise<{ store: BlobStore; spool: string }>, skip: string | false = false): void {
  describe(`blob store contract: ${name}`, { skip }, () => {
    let store: BlobStore;
    let spool: string;
    before(async () => ({ store, spool } = await open()));
    after(async () => store?.close());

    test('a received blob is invisible until committed, then served whole, by range, with its size', async () => {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      const received = await store.receive(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), 10 * 1024 * 1024);
      assert.equal(received.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(received.md5, createHash('md5').update(bytes).digest('hex'));
      assert.equal(received.size, bytes.length);
      assert.equal(await store.exists(received.sha256), false, 'not visible before commit');
      await store.commit(received);
      await store.discard(received);
      assert.deepEqual(readdirSync(spool), [], 'the spool file is gone');
      assert.equal(await store.size(received.sha256), bytes.length);
      assert.ok((await readAll(await store.read(received.sha256))).equals(bytes));
      assert.ok((await readAll(await store.read(received.sha256, { start: 5, end: 1029 }))).equals(bytes.subarray(5, 1030)));
      const listed = [];
      for await (const blob of store.list()) listed.push(blob);
      const entry = listed.find((b) => b.sha256 === received.sha256);
      assert.ok(entry, 'list() names the blob');
      assert.ok(Math.abs(entry.written.getTime() - Date.now()) < 120_000, `written ${entry.written.toISOString()} is about now`);
      await store.remove(received.sha256);
      assert.equal(await store.exists(received.sha256), false);
      await store.remove(received.sha256); // removing twice is not an error
    });

    test('a blob over the limit is refused and leaves nothing', async () => {
      await assert.rejects(store.receive(Readable.from([randomBytes(2048)]), 1024), (e: unknown) => isCairnError(e) && e.code === 'upload.too_large');
      assert.deepEqual(readdirSync(spool), []);
    });

    test('reading a blob the store has lost is blob.missing before any byte', async () => {
      const sha256 = createHash('sha256').update(`lost-${name}`).digest('hex');
      await assert.rejects(store.read(sha256), (e: unknown) => isCairnError(e) && e.code === 'blob.missing' && e.message.includes(sha256));
      assert.equal(await store.size(sha256), null);
    });

    test('staged blobs appear only on commitStaged; discarded ones never', async () => {
      const [a, b] = [randomBytes(5000), randomBytes(7000)];
      const stagedA = await store.stage(a, digestsOf(a));
      const stagedB = await store.stage(b, digestsOf(b));
      assert.equal(await store.exists(stagedA.sha256), false);
      await store.commitStaged([stagedA]);
      await store.discardStaged([stagedB]);
      assert.ok((await readAll(await store.read(stagedA.sha256))).equals(a));
      assert.equal(await store.exists(stagedB.sha256), false);
      assert.deepEqual(readdirSync(spool), []);
      await store.remove(stagedA.sha256);
    });
  });
}

contract('file system', async () => {
  const root = mkdtempSync(join(work, 'fs-'));
  return { store: new FileSystemBlobStore(root), spool: join(root, 'tmp') };
});

const s3Skip = skipUnlessS3();
let s3: S3Endpoint | null = null;
let bucket = '';
after(async () => {
  if (s3 && bucket) await emptyAndDeleteBucket(s3, bucket);
  await s3?.stop();
});
contract(
  'S3 (Ceph RGW)',
  async () => {
    s3 = await s3Endpoint();
    bucket = await createBucket(s3);
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    const spool = mkdtempSync(join(work, 's3-spool-'));
    const store = new S3BlobStore(s3Location(s3, bucket, spool));
    await store.verify();
    return { store, spool };
  },
  s3Skip,
);
