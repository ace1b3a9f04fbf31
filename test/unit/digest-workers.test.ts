import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { blake2b } from 'hash-wasm';
import { DigestWorkers, MAX_BYTES_IN_FLIGHT } from '../../src/server/storage/digest-workers.ts';
import { runCommand } from '../support/commands.ts';

/** md5 and blake2b-256 on worker threads: the digests an upload stores, whatever the chunking. */
const pool = new DigestWorkers();
after(() => pool.close());

async function digestOf(chunks: Buffer[]) {
  const job = pool.start();
  for (const chunk of chunks) job.update(chunk);
  return job.finish();
}

function randomChunks(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const size = 1 + Math.floor(Math.random() * 200_000);
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

test('known answers: the empty input and "abc"', async () => {
  assert.deepEqual(await digestOf([]), {
    md5: 'd41d8cd98f00b204e9800998ecf8427e',
    blake2b256: '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8',
  });
  assert.deepEqual(await digestOf([Buffer.from('a'), Buffer.from('bc')]), {
    md5: '900150983cd24fb0d6963f7d28e17f72',
    blake2b256: 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319',
  });
});

test('interleaved uploads each get the digests of their own bytes, in order', async () => {
  const inputs = [randomBytes(3_000_000), randomBytes(1_500_000), randomBytes(10)];
  const jobs = inputs.map(() => pool.start());
  const queues = inputs.map(randomChunks);
  // Feed the jobs round-robin, as concurrent uploads arrive.
  while (queues.some((q) => q.length > 0)) {
    queues.forEach((queue, i) => {
      const chunk = queue.shift();
      if (chunk) jobs[i]!.update(chunk);
    });
  }
  const aborted = pool.start();
  aborted.update(randomBytes(1000));
  aborted.abort();
  const results = await Promise.all(jobs.map((job) => job.finish()));
  for (const [i, data] of inputs.entries()) {
    assert.deepEqual(results[i], { md5: createHash('md5').update(data).digest('hex'), blake2b256: await blake2b(data, 256) });
  }
});

test('a sender that runs ahead of the workers is told to wait, and resumes once they catch up', async () => {
  const data = randomBytes(MAX_BYTES_IN_FLIGHT * 3);
  const job = pool.start();
  let waits = 0;
  for (let offset = 0; offset < data.length; offset += 1024 * 1024) {
    // Without the wait the loop would queue all 96 MiB at once: it never yields to hear progress.
    if (!job.update(data.subarray(offset, offset + 1024 * 1024))) {
      waits++;
      await job.drained();
    }
  }
  assert.ok(waits > 0, 'the sender was asked to wait at least once');
  assert.deepEqual(await job.finish(), { md5: createHash('md5').update(data).digest('hex'), blake2b256: await blake2b(data, 256) });
});

test('a sender waiting on workers that stop is released, and the job fails', async () => {
  const local = new DigestWorkers();
  const job = local.start();
  const chunk = randomBytes(1024 * 1024);
  while (job.update(chunk)) {
    // queue until the job asks to wait
  }
  const waiting = job.drained();
  await local.close();
  await waiting;
  await assert.rejects(job.finish(), /worker stopped/);
});

test('a job in flight when the workers stop fails clearly, and the next job starts fresh workers', async () => {
  const local = new DigestWorkers();
  const job = local.start();
  job.update(randomBytes(100));
  await local.close();
  await assert.rejects(job.finish(), (error: Error & { code?: string }) => error.code === 'internal.error' && /worker stopped/.test(error.message));
  assert.deepEqual(await (async () => {
    const next = local.start();
    next.update(Buffer.from('abc'));
    return (await next.finish()).md5;
  })(), '900150983cd24fb0d6963f7d28e17f72');
  await local.close();
});

test('idle workers do not keep a process alive', async () => {
  const script = `
    import { DigestWorkers } from ${JSON.stringify(new URL('../../src/server/storage/digest-workers.ts', import.meta.url).pathname)};
    const job = new DigestWorkers().start();
    job.update(Buffer.from('abc'));
    console.log((await job.finish()).md5);
  `;
  const result = await runCommand(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeoutMs: 30_000 });
  assert.equal(result.status, 0, result.output);
  assert.equal(result.stdout.trim(), '900150983cd24fb0d6963f7d28e17f72', 'the job finished before the process left');
});
