import { Worker } from 'node:worker_threads';
import { CairnError } from '../../errors.ts';

type Algorithm = 'md5' | 'blake2b-256';
const ALGORITHMS: readonly Algorithm[] = ['md5', 'blake2b-256'];

/** Bytes a job may have sent that a worker has not hashed yet, before its sender should wait. */
export const MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
/** A waiting sender resumes once the slowest worker is this close. */
const RESUME_BYTES_IN_FLIGHT = 8 * 1024 * 1024;

/** The digests an upload needs besides sha256, computed off the thread that receives the bytes. */
export interface ParallelDigestJob {
  /**
   * Queues a chunk for the workers (copied: the caller may reuse it). False when the workers lag
   * more than MAX_BYTES_IN_FLIGHT behind: the caller should wait for `drained()` before sending
   * more, so a starved worker cannot make an upload's bytes pile up in memory.
   */
  update(chunk: Buffer): boolean;
  drained(): Promise<void>;
  finish(): Promise<{ md5: string; blake2b256: string }>;
  /** Forgets the job (refused upload); its digest is never asked for. */
  abort(): void;
}

interface HashWorker {
  worker: Worker;
  waiting: Map<number, { resolve: (digest: string) => void; reject: (error: Error) => void }>;
  /** Per job: told how many more bytes the worker has hashed (and, with -1, that it stopped). */
  progress: Map<number, (hashed: number) => void>;
}

/**
 * md5 and blake2b-256 on one worker thread each. On one thread, the three digests of an upload
 * cost about twice its sha256-and-write (docs/benchmarks.md); spread over threads, receiving a
 * 100 MiB upload got about 1.4× faster on this project's 2-core machines. sha256 stays on the
 * receiving thread: the blob's name depends on it and it is the cheapest of the three.
 */
export class DigestWorkers {
  private workers: Map<Algorithm, HashWorker> | null = null;
  private nextId = 1;
  private active = 0;

  /** Idle workers must not keep a process alive; a job in flight must (its caller awaits it). */
  private track(workers: Map<Algorithm, HashWorker>, delta: 1 | -1): void {
    this.active += delta;
    for (const { worker } of workers.values()) {
      if (this.active > 0) worker.ref();
      else worker.unref();
    }
  }

  private spawn(): Map<Algorithm, HashWorker> {
    const workers = new Map<Algorithm, HashWorker>();
    for (const algorithm of ALGORITHMS) {
      // No inherited flags: the worker is plain JavaScript, and the parent's (`-e`, `--input-type`,
      // test-runner flags) can stop it from starting.
      const worker = new Worker(new URL('./digest-worker.mjs', import.meta.url), { workerData: { algorithm }, execArgv: [] });
      worker.unref();
      const entry: HashWorker = { worker, waiting: new Map(), progress: new Map() };
      worker.on('message', (message: { id: number; hashed?: number; digest?: string; error?: string }) => {
        if (message.hashed !== undefined) {
          entry.progress.get(message.id)?.(message.hashed);
          return;
        }
        const waiter = entry.waiting.get(message.id);
        if (!waiter) return;
        entry.waiting.delete(message.id);
        if (message.digest !== undefined) waiter.resolve(message.digest);
        else waiter.reject(new CairnError('internal.error', `${algorithm} digest failed: ${message.error ?? 'no digest'}`));
      });
      const fail = (error: Error) => {
        // A broken worker fails the uploads it was hashing; the next upload starts fresh ones.
        if (this.workers === workers) this.workers = null;
        for (const waiter of entry.waiting.values()) waiter.reject(new CairnError('internal.error', `the ${algorithm} worker stopped: ${error.message}`));
        entry.waiting.clear();
        for (const report of entry.progress.values()) report(-1);
        entry.progress.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
      workers.set(algorithm, entry);
    }
    return workers;
  }

  start(): ParallelDigestJob {
    const workers = (this.workers ??= this.spawn());
    const id = this.nextId++;
    let sent = 0;
    let stopped = false;
    const hashed = new Map<Algorithm, number>(ALGORITHMS.map((a) => [a, 0]));
    const inFlight = () => (stopped ? 0 : sent - Math.min(...hashed.values()));
    let resume: { promise: Promise<void>; resolve: () => void } | null = null;
    for (const [algorithm, entry] of workers) {
      entry.progress.set(id, (bytes) => {
        if (bytes < 0) stopped = true;
        else hashed.set(algorithm, hashed.get(algorithm)! + bytes);
        if (resume && inFlight() <= RESUME_BYTES_IN_FLIGHT) {
          resume.resolve();
          resume = null;
        }
      });
    }
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      for (const entry of workers.values()) entry.progress.delete(id);
      resume?.resolve();
      this.track(workers, -1);
    };
    this.track(workers, 1);
    const post = (message: object) => {
      for (const { worker } of workers.values()) worker.postMessage(message);
    };
    post({ id, op: 'start' });
    return {
      update: (chunk) => {
        post({ id, op: 'data', chunk });
        sent += chunk.length;
        return inFlight() <= MAX_BYTES_IN_FLIGHT;
      },
      drained: () => {
        if (settled || inFlight() <= RESUME_BYTES_IN_FLIGHT) return Promise.resolve();
        if (!resume) {
          let resolve!: () => void;
          const promise = new Promise<void>((r) => (resolve = r));
          resume = { promise, resolve };
        }
        return resume.promise;
      },
      finish: async () => {
        const digest = (algorithm: Algorithm) =>
          new Promise<string>((resolve, reject) => {
            if (this.workers !== workers) {
              reject(new CairnError('internal.error', `the ${algorithm} worker stopped during the upload`));
              return;
            }
            const entry = workers.get(algorithm)!;
            entry.waiting.set(id, { resolve, reject });
            entry.worker.postMessage({ id, op: 'end' });
          });
        try {
          const [md5, blake2b256] = await Promise.all([digest('md5'), digest('blake2b-256')]);
          return { md5, blake2b256 };
        } finally {
          settle();
        }
      },
      abort: () => {
        post({ id, op: 'drop' });
        settle();
      },
    };
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = null;
    if (workers) await Promise.all([...workers.values()].map(({ worker }) => worker.terminate()));
  }
}
