import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerDevTrust } from '../../src/devtrust/routes.ts';
import { DEV_TRUST_PREFIX } from '../../src/server/http/dev-trust-mount.ts';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { skipUnlessHaproxy, startHaproxy, type Balancer } from '../support/haproxy.ts';
import { createTestDatabase, postgresAvailable } from '../support/postgres.ts';
import { skipUnless } from '../support/requirements.ts';
import { s3Endpoint, skipUnlessS3, type S3Endpoint } from '../support/rgw.ts';
import { devTrustBase, signBuildProvenance, submitProvenance } from '../support/provenance.ts';
import { createBucket, emptyAndDeleteBucket, s3Env } from '../support/s3.ts';
import { basicAuth } from '../support/server.ts';
import { startServeProcess, type ServeProcess } from '../support/serve-process.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * Three stateless `cairn serve` processes on one PostgreSQL database and one S3 bucket (Ceph
 * RGW), behind HAProxy: what a company index that must stay up during a deploy runs.
 */
const INSTANCES = 3;
/** How soon an instance serves what another committed: the page journal is polled every 250 ms. */
const VISIBILITY_BOUND_MS = 2000;

const work = mkdtempSync(join(tmpdir(), 'cairn-scale-out-'));
const skip = skipUnlessS3() || skipUnlessHaproxy() || skipUnless(await postgresAvailable(), 'PostgreSQL at 127.0.0.1:5432');

let s3: S3Endpoint;
let bucket: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string>;
const instances: ServeProcess[] = [];
let balancer: Balancer;
let auth: string;
/** A dev trust domain of its own (as `cairn dev-trust` runs it), trusted by every instance through its trusted root file. */
let signer: FastifyInstance;
const signerAt = { url: '' };

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function listed(url: string, project: string): Promise<string[]> {
  const answer = await fetch(`${url}/simple/${project}/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
  if (answer.status !== 200) return [];
  return ((await answer.json()) as { files: { filename: string }[] }).files.map((f) => f.filename);
}

/** Milliseconds until every instance lists the file. */
async function untilEveryInstanceLists(project: string, filename: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const seen = await Promise.all(instances.map(async (i) => (await listed(i.url, project)).includes(filename)));
    if (seen.every(Boolean)) return Date.now() - started;
    if (Date.now() - started > 10_000) throw new Error(`${filename} not listed everywhere after 10 s: ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('several cairn instances behind HAProxy on PostgreSQL and S3', { skip }, () => {
  before(async () => {
    s3 = await s3Endpoint();
    bucket = await createBucket(s3);
    database = await createTestDatabase();
    signer = Fastify();
    await registerDevTrust(signer, { prefix: DEV_TRUST_PREFIX, baseUrl: () => devTrustBase(signerAt), stateDir: join(work, 'dev-trust') });
    signerAt.url = await signer.listen({ host: '127.0.0.1', port: 0 });
    const trustedRoot = join(work, 'trusted_root.json');
    writeFileSync(trustedRoot, await (await fetch(`${devTrustBase(signerAt)}/trusted_root.json`)).text());
    env = {
      ...s3Env(s3, bucket, { prefix: 'cluster' }),
      CAIRN_DATABASE_URL: database.url,
      CAIRN_TUF_KEYS_DIR: join(work, 'tuf-keys'),
      CAIRN_TRUSTED_ROOT: trustedRoot,
    };
    const made = await runCairn(['admin', 'token', 'create', '--new-projects', '--create', '--data-dir', join(work, 'admin')], { env });
    assert.equal(made.status, 0, made.output);
    auth = basicAuth(made.stdout.trim().split('\n').pop()!.trim());
    for (let i = 0; i < INSTANCES; i++) instances.push(await startServeProcess(['--quiet', '--data-dir', join(work, `instance-${i}`)], env));
    balancer = await startHaproxy(instances.map((i) => i.url));
  });
  after(async () => {
    await balancer?.stop();
    await Promise.all(instances.map((i) => i.stop()));
    await signer?.close();
    if (bucket) await emptyAndDeleteBucket(s3, bucket);
    await s3?.stop();
    await database?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  test(`uploads and reads spread over the instances; each file is served by every instance within ${VISIBILITY_BOUND_MS} ms`, async () => {
    const backends = new Set<string>();
    const delays: number[] = [];
    for (let n = 0; n < INSTANCES * 2; n++) {
      const dist = makeDistribution(work, { name: `spread-${n}`, version: '1.0', kind: 'wheel' });
      const answer = await uploadFile(balancer.url, dist.path, auth);
      assert.equal(answer.status, 200, JSON.stringify(answer));
      delays.push(await untilEveryInstanceLists(`spread-${n}`, dist.filename));
      for (const instance of instances) {
        const download = await fetch(`${instance.url}/files/${sha256(dist.bytes)}/${dist.filename}`);
        assert.ok(Buffer.from(await download.arrayBuffer()).equals(dist.bytes), `${instance.url} serves ${dist.filename}`);
      }
    }
    for (let n = 0; n < INSTANCES * 2; n++) {
      backends.add((await fetch(`${balancer.url}/simple/spread-${n}/`)).headers.get('x-cairn-backend') ?? '');
    }
    assert.equal(backends.size, INSTANCES, `reads reached ${[...backends].join(', ')}`);
    assert.ok(Math.max(...delays) < VISIBILITY_BOUND_MS, `visible everywhere after ${delays.join(', ')} ms`);
  });

  test('the same filename uploaded through two instances at the same moment: exactly one wins, the other gets file-exists', async () => {
    const first = makeDistribution(mkdtempSync(join(work, 'a-')), { name: 'contested-file', version: '1.0', kind: 'wheel', payload: 'x = 1\n' });
    const second = makeDistribution(mkdtempSync(join(work, 'b-')), { name: 'contested-file', version: '1.0', kind: 'wheel', payload: 'x = 2\n' });
    assert.equal(first.filename, second.filename);
    assert.notEqual(sha256(first.bytes), sha256(second.bytes));
    const answers = await Promise.all([uploadFile(instances[0]!.url, first.path, auth), uploadFile(instances[1]!.url, second.path, auth)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400], JSON.stringify(answers));
    const loser = answers.find((a) => a.status === 400)!;
    assert.equal(loser.body.code, 'upload.file_exists', JSON.stringify(loser));
    const winner = answers[0]!.status === 200 ? first : second;
    await untilEveryInstanceLists('contested-file', first.filename);
    for (const instance of instances) {
      const page = (await (await fetch(`${instance.url}/simple/contested-file/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as {
        files: { filename: string; hashes: { sha256: string } }[];
      };
      assert.deepEqual(page.files.map((f) => [f.filename, f.hashes.sha256]), [[winner.filename, sha256(winner.bytes)]], `${instance.url} lists the winner once`);
    }
  });

  test('build provenance submitted to one instance is bound by an upload through another and served by the third', async () => {
    const dist = makeDistribution(work, { name: 'spread-provenance', version: '1.0', kind: 'wheel' });
    const signed = await signBuildProvenance(signerAt, { filename: dist.filename, sha256: sha256(dist.bytes) });
    const submitted = await submitProvenance(instances[0]!, { filename: dist.filename, sha256: sha256(dist.bytes), attestations: [signed.attestation] });
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    assert.equal(submitted.body.status, 'pending');
    assert.equal((await uploadFile(instances[1]!.url, dist.path, auth)).status, 200);
    await untilEveryInstanceLists('spread-provenance', dist.filename);
    const integrity = await fetch(`${instances[2]!.url}/integrity/spread-provenance/1.0/${dist.filename}/provenance`);
    assert.equal(integrity.status, 200);
    const provenance = (await integrity.json()) as { attestation_bundles: { attestations: unknown[] }[] };
    assert.deepEqual(provenance.attestation_bundles[0]!.attestations[0], signed.attestation);
  });

  test('TUF metadata is signed by one instance at a time with the shared keys; every instance serves the same timestamp', async () => {
    // Settled: every instance answers the same bytes twice in a row.
    let timestamps: string[] = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const a = await Promise.all(instances.map(async (i) => (await fetch(`${i.url}/tuf/timestamp.json`)).text()));
      await new Promise((resolve) => setTimeout(resolve, 700));
      timestamps = await Promise.all(instances.map(async (i) => (await fetch(`${i.url}/tuf/timestamp.json`)).text()));
      if (new Set([...a, ...timestamps]).size === 1 && timestamps[0]!.startsWith('{')) break;
      if (Date.now() > deadline) throw new Error(`instances disagree on timestamp.json: ${timestamps.map((t) => t.slice(0, 120)).join(' | ')}`);
    }
    const timestamp = JSON.parse(timestamps[0]!) as { signed: { version: number }; signatures: { keyid: string }[] };
    const root = JSON.parse(await (await fetch(`${instances[2]!.url}/tuf/1.root.json`)).text()) as { signed: { roles: { timestamp: { keyids: string[] } } } };
    assert.deepEqual(timestamp.signatures.map((s) => s.keyid), root.signed.roles.timestamp.keyids, 'signed with the key the root names (the shared online key)');
    assert.ok(timestamp.signed.version >= 2, `version ${timestamp.signed.version}: refreshed after the uploads`);
  });

  test('SIGKILL of one instance during a load of uploads loses no upload answered 200; the others keep answering', async () => {
    const dists = Array.from({ length: 24 }, (_, n) => makeDistribution(work, { name: `load-${n}`, version: '1.0', kind: 'wheel', randomBytes: 200_000 }));
    const answers: { status: number; code?: string }[] = [];
    let next = 0;
    const victim = instances[2]!;
    const worker = async () => {
      for (let n = next++; n < dists.length; n = next++) {
        if (n === 8) victim.child.kill('SIGKILL');
        const answer = await uploadFile(balancer.url, dists[n]!.path, auth).catch((error: Error) => ({ status: 0, body: { code: error.message } }));
        answers[n] = { status: answer.status, code: answer.body.code };
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const accepted = dists.filter((_, n) => answers[n]!.status === 200);
    assert.ok(accepted.length >= dists.length - 4, `most uploads went in: ${JSON.stringify(answers)}`);
    for (const dist of accepted) {
      const download = await fetch(`${balancer.url}/files/${sha256(dist.bytes)}/${dist.filename}`);
      assert.equal(download.status, 200, `${dist.filename} answered 200 is served`);
      assert.ok(Buffer.from(await download.arrayBuffer()).equals(dist.bytes));
    }
    // The balancer keeps answering from the survivors.
    for (let n = 0; n < 12; n++) assert.equal((await fetch(`${balancer.url}/simple/`)).status, 200);
    // A retried refusal goes in: nothing half-stored blocks it.
    for (const [n, dist] of dists.entries()) {
      if (answers[n]!.status === 200) continue;
      const again = await uploadFile(balancer.url, dist.path, auth);
      assert.equal(again.status, 200, JSON.stringify(again));
    }
  });
});
