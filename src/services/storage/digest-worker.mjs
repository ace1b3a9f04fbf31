// One digest algorithm on a worker thread, for many uploads at once (see digest-workers.ts).
// Plain JavaScript: worker threads do not get the tsx loader the rest of cairn runs under.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { createBLAKE2b } from 'hash-wasm';

const algorithm = workerData.algorithm;
const jobs = new Map();

async function newHasher() {
  if (algorithm === 'blake2b-256') {
    const hasher = await createBLAKE2b(256);
    hasher.init();
    return hasher;
  }
  return createHash(algorithm);
}

// Messages from one port arrive in order, so a job's chunks are hashed in the order sent even
// though the hasher is created asynchronously: every step waits on the one before.
parentPort.on('message', (message) => {
  const { id, op } = message;
  if (op === 'start') {
    jobs.set(id, newHasher());
  } else if (op === 'data') {
    const job = jobs.get(id);
    if (job) jobs.set(id, job.then((hasher) => (hasher.update(message.chunk), hasher)));
  } else if (op === 'end') {
    const job = jobs.get(id);
    jobs.delete(id);
    if (!job) return;
    job.then(
      (hasher) => parentPort.postMessage({ id, digest: hasher.digest('hex') }),
      (error) => parentPort.postMessage({ id, error: String(error) }),
    );
  } else if (op === 'drop') {
    jobs.delete(id);
  }
});
