import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { freePort, s3Endpoint, skipUnlessS3, type S3Endpoint } from '../support/rgw.ts';
import { BreakableRelay, createBucket, deleteObject, emptyAndDeleteBucket, listKeys, s3Env } from '../support/s3.ts';
import { basicAuth } from '../support/server.ts';
import { failingServe, startServeProcess, type ServeProcess } from '../support/serve-process.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * `cairn serve` with its blobs in a real S3-compatible store (Ceph RGW): uploads, downloads with
 * ETag, Range and HEAD as with files on disk, presigned redirects, and every fault of the
 * object store an operator meets (down, failing mid-upload, wrong credentials, no bucket, an
 * object deleted behind cairn's back).
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-s3-'));
const skip = skipUnlessS3();
let s3: S3Endpoint;
let bucket: string;
const running: ServeProcess[] = [];

async function serve(env: Record<string, string>): Promise<ServeProcess> {
  const dataDir = mkdtempSync(join(work, 'data-'));
  const server = await startServeProcess(['--data-dir', dataDir], env);
  running.push(server);
  return server;
}

async function tokenFor(server: ServeProcess, env: Record<string, string>): Promise<string> {
  const dataDir = /data: (\S+),/.exec(server.output())![1]!;
  const made = await runCairn(['admin', 'token', 'create', '--new-projects', '--data-dir', dataDir], { env });
  assert.equal(made.status, 0, made.output);
  return made.stdout.trim().split('\n').pop()!.trim();
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('cairn serve on S3-compatible object storage', { skip }, () => {
  before(async () => {
    s3 = await s3Endpoint();
    bucket = await createBucket(s3);
  });
  after(async () => {
    await Promise.all(running.map((server) => server.stop()));
    if (bucket) await emptyAndDeleteBucket(s3, bucket);
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('an upload lands in the bucket under its content address and downloads with ETag, Range and HEAD', async () => {
    const env = s3Env(s3, bucket, { prefix: 'plain' });
    const server = await serve(env);
    const auth = basicAuth(await tokenFor(server, env));
    const dist = makeDistribution(work, { name: 's3-plain', version: '1.0', kind: 'wheel', randomBytes: 300_000 });
    const digest = sha256(dist.bytes);
    const answer = await uploadFile(server.url, dist.path, auth);
    assert.equal(answer.status, 200, JSON.stringify(answer));
    assert.ok((await listKeys(s3, bucket)).includes(`plain/sha256/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest}`));

    const url = `${server.url}/files/${digest}/${dist.filename}`;
    const whole = await fetch(url);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('etag'), `"${digest}"`);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(dist.bytes));
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(dist.bytes.length));
    const ranged = await fetch(url, { headers: { Range: 'bytes=100-1099' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 100-1099/${dist.bytes.length}`);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(dist.bytes.subarray(100, 1100)));
    const notModified = await fetch(url, { headers: { 'If-None-Match': `"${digest}"` } });
    assert.equal(notModified.status, 304);
  });

  test('with CAIRN_S3_DOWNLOADS=redirect a download is a presigned URL the store answers, Range included', async () => {
    const env = { ...s3Env(s3, bucket, { prefix: 'redirect' }), CAIRN_S3_DOWNLOADS: 'redirect' };
    const server = await serve(env);
    const auth = basicAuth(await tokenFor(server, env));
    const dist = makeDistribution(work, { name: 's3-redirect', version: '1.0', kind: 'wheel', randomBytes: 50_000 });
    assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
    const url = `${server.url}/files/${sha256(dist.bytes)}/${dist.filename}`;
    const redirect = await fetch(url, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    const location = redirect.headers.get('location')!;
    assert.ok(location.startsWith(`${s3.endpoint}/${bucket}/redirect/sha256/`), location);
    assert.match(location, /X-Amz-Signature=/);
    const followed = await fetch(url);
    assert.ok(Buffer.from(await followed.arrayBuffer()).equals(dist.bytes));
    assert.match(followed.headers.get('content-disposition') ?? '', new RegExp(dist.filename.replace(/\./g, '\\.')));
    const ranged = await fetch(location, { headers: { Range: 'bytes=0-9' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(dist.bytes.subarray(0, 10)));
    const head = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    assert.equal(head.status, 200, 'HEAD is answered by cairn');
    assert.equal(head.headers.get('content-length'), String(dist.bytes.length));
  });

  test('an endpoint that is down at start stops serve with an error naming it', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const failed = await failingServe(['--data-dir', mkdtempSync(join(work, 'data-'))], s3Env(s3, bucket, { endpoint: dead }));
    assert.notEqual(failed.code, 0);
    assert.ok(failed.output.includes(dead), failed.output);
    assert.match(failed.output, /cannot be reached/);
  });

  test('wrong credentials stop serve with an error saying so', async () => {
    const failed = await failingServe(['--data-dir', mkdtempSync(join(work, 'data-'))], { ...s3Env(s3, bucket), AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
    assert.notEqual(failed.code, 0);
    assert.match(failed.output, /refused the credentials/);
    assert.ok(failed.output.includes(s3.endpoint), failed.output);
  });

  test('a bucket that does not exist stops serve with an error naming it', async () => {
    const failed = await failingServe(['--data-dir', mkdtempSync(join(work, 'data-'))], s3Env(s3, 'no-such-bucket-here'));
    assert.notEqual(failed.code, 0);
    assert.match(failed.output, /the bucket 'no-such-bucket-here' does not exist/);
  });

  test('the store failing mid-upload refuses the upload with a code and references nothing', async () => {
    const relay = new BreakableRelay({ host: '127.0.0.1', port: Number(new URL(s3.endpoint).port) });
    const relayUrl = await relay.listen();
    try {
      const env = s3Env(s3, bucket, { prefix: 'cut', endpoint: relayUrl });
      const server = await serve(env);
      const auth = basicAuth(await tokenFor(server, env));
      const dist = makeDistribution(work, { name: 's3-cut', version: '1.0', kind: 'wheel', randomBytes: 4 * 1024 * 1024 });
      relay.cutAfter(1024 * 1024);
      const refused = await uploadFile(server.url, dist.path, auth);
      assert.equal(refused.status, 503, JSON.stringify(refused));
      assert.equal(refused.body.code, 'blobstore.unavailable');
      relay.heal();
      assert.equal((await fetch(`${server.url}/simple/s3-cut/`)).status, 404, 'no project was created');
      assert.equal((await listKeys(s3, bucket)).filter((k) => k.startsWith('cut/')).length, 0, 'no object');
      // Nothing was referenced or burned: the same file goes in once the store is back.
      const retried = await uploadFile(server.url, dist.path, auth);
      assert.equal(retried.status, 200, JSON.stringify(retried));
      const download = await fetch(`${server.url}/files/${sha256(dist.bytes)}/${dist.filename}`);
      assert.ok(Buffer.from(await download.arrayBuffer()).equals(dist.bytes));
    } finally {
      await relay.close();
    }
  });

  test('an object deleted behind cairn\'s back is a 500 with blob.missing and a log line; serve keeps answering', async () => {
    const env = s3Env(s3, bucket, { prefix: 'lost' });
    const server = await serve(env);
    const auth = basicAuth(await tokenFor(server, env));
    const dist = makeDistribution(work, { name: 's3-lost', version: '1.0', kind: 'wheel' });
    assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
    const digest = sha256(dist.bytes);
    await deleteObject(s3, bucket, `lost/sha256/${digest.slice(0, 2)}/${digest.slice(2, 4)}/${digest}`);
    const answer = await fetch(`${server.url}/files/${digest}/${dist.filename}`);
    assert.equal(answer.status, 500);
    assert.equal(((await answer.json()) as { code: string }).code, 'blob.missing');
    // The log line is written as the answer goes out; the pipe may bring it a moment later.
    for (let waited = 0; !/"code":"blob\.missing"/.test(server.output()) && waited < 5000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(server.output(), /"code":"blob\.missing"/);
    assert.ok(server.output().includes(digest));
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/simple/s3-lost/`)).status, 200);
  });

  test('cairn admin blobs sweep deletes an unreferenced object older than the cut-off and keeps referenced ones', async () => {
    const env = s3Env(s3, bucket, { prefix: 'sweep' });
    const server = await serve(env);
    const dataDir = /data: (\S+),/.exec(server.output())![1]!;
    const auth = basicAuth(await tokenFor(server, env));
    const kept = makeDistribution(work, { name: 's3-sweep', version: '1.0', kind: 'wheel' });
    assert.equal((await uploadFile(server.url, kept.path, auth)).status, 200);
    const orphan = makeDistribution(work, { name: 's3-orphan', version: '1.0', kind: 'wheel' });
    assert.equal((await uploadFile(server.url, orphan.path, auth)).status, 200);
    const removed = await runCairn(['admin', 'delete-release', 's3-orphan', '1.0', '--data-dir', dataDir], { env });
    assert.equal(removed.status, 0, removed.output);
    // What an earlier crash would leave: an object no row references (put back after the delete).
    const { testS3Client } = await import('../support/s3.ts');
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const client = testS3Client(s3);
    const orphanKey = `sweep/sha256/${sha256(orphan.bytes).slice(0, 2)}/${sha256(orphan.bytes).slice(2, 4)}/${sha256(orphan.bytes)}`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: orphanKey, Body: orphan.bytes }));
    client.destroy();
    const young = await runCairn(['admin', 'blobs', 'sweep', '--older-than', '1h', '--data-dir', dataDir], { env });
    assert.equal(young.status, 0, young.output);
    assert.match(young.stdout, /^0 orphan blob\(s\) deleted/m, 'a blob written within the cut-off is kept');
    const refused = await runCairn(['admin', 'blobs', 'sweep', '--older-than', 'soon', '--data-dir', dataDir], { env });
    assert.equal(refused.status, 2, refused.output);
    assert.match(refused.output, /--older-than must be an age such as 90s/);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const swept = await runCairn(['admin', 'blobs', 'sweep', '--older-than', '1s', '--data-dir', dataDir], { env });
    assert.equal(swept.status, 0, swept.output);
    assert.ok(swept.stdout.includes(`deleted ${sha256(orphan.bytes)}`), swept.output);
    const keys = (await listKeys(s3, bucket)).filter((k) => k.startsWith('sweep/'));
    assert.deepEqual(keys, [`sweep/sha256/${sha256(kept.bytes).slice(0, 2)}/${sha256(kept.bytes).slice(2, 4)}/${sha256(kept.bytes)}`]);
  });
});
