// One digest algorithm on a worker thread, for many uploads at once (see digest-workers.ts).
// Plain JavaScript: worker threads do not get the tsx loader the rest of cairn runs under.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { createBLAKE2b } from 'hash-wasm';

const algorithm = workerData.algorithm;
const jobs = new Map();
const hashedSince = new Map();
const REPORT_EVERY = 1024 * 1024;

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
    if (!job) return;
    jobs.set(
      id,
      job.then((hasher) => {
        hasher.update(message.chunk);
        // The sender limits how far it runs ahead; it learns what has been hashed from these.
        hashedSince.set(id, (hashedSince.get(id) ?? 0) + message.chunk.length);
        if (hashedSince.get(id) >= REPORT_EVERY) {
          parentPort.postMessage({ id, hashed: hashedSince.get(id) });
          hashedSince.set(id, 0);
        }
        return hasher;
      }),
    );
  } else if (op === 'end') {
    const job = jobs.get(id);
    jobs.delete(id);
    hashedSince.delete(id);
    if (!job) return;
    job.then(
      (hasher) => parentPort.postMessage({ id, digest: hasher.digest('hex') }),
      (error) => parentPort.postMessage({ id, error: String(error) }),
    );
  } else if (op === 'drop') {
    jobs.delete(id);
    hashedSince.delete(id);
  }
});
