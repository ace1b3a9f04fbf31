import type { Worker } from 'node:worker_threads';
import { CairnError, type ErrorCode } from '../../errors.ts';
import type { BlobStoreLocation, StagedBlob } from '../storage/blob-store.ts';
import { startWorker } from '../worker-entry.ts';
import type { AnalysedDistribution } from './distribution-analysis.ts';
import type { WalkEntry } from './import-walk.ts';

/** One file for a worker to read and analyse. */
export interface AnalysisJob {
  index: number;
  path: string;
  name: string;
  open: string;
  viaSymlink: boolean;
}

/** A worker's answer: a valid distribution with its bytes staged in the blob store, or why the file was refused. */
export type AnalysisMessage =
  | { index: number; ok: true; analysed: AnalysedDistribution; staged: StagedBlob }
  | { index: number; ok: false; code: ErrorCode; message: string };

export interface AnalysisWorkerData {
  maxBytes: number;
  store: BlobStoreLocation;
}

/** An entry of the import, in walk order. */
export type AnalysedEntry =
  | { ok: true; path: string; analysed: AnalysedDistribution; staged: StagedBlob }
  | { ok: false; path: string; filename: string; code: ErrorCode; message: string };

/** Files sent to one worker and not answered yet: enough to keep it busy while a batch commits. */
const QUEUE_PER_WORKER = 256;
/** Files per message to a worker. */
const JOBS_PER_MESSAGE = 16;
/** How far dispatching may run ahead of the entry the importer waits for (results held for reordering). */
const MAX_AHEAD = 4096;

class Signal {
  private waiting: { promise: Promise<void>; resolve: () => void } | null = null;

  wait(): Promise<void> {
    if (!this.waiting) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.waiting = { promise, resolve };
    }
    return this.waiting.promise;
  }

  notify(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve();
  }
}

interface PoolWorker {
  worker: Worker;
  inFlight: number;
}

/**
 * Worker threads that read, hash, validate and stage distributions (import-worker.ts), fed from a
 * directory walk and answered in walk order.
 */
export class AnalysisPool {
  private readonly workers: PoolWorker[] = [];
  private closing = false;

  constructor(private readonly options: { jobs: number; maxBytes: number; store: BlobStoreLocation }) {}

  /** `abandon` is given what was staged for entries never handed out (the import stopped early). */
  async *analyse(entries: AsyncIterable<WalkEntry>, abandon: (staged: StagedBlob[]) => Promise<void>): AsyncGenerator<AnalysedEntry> {
    const results = new Map<number, AnalysedEntry>();
    const jobs = new Map<number, AnalysisJob>();
    const progress = new Signal();
    let failure: Error | null = null;
    let total: number | null = null;
    let awaited = 0;

    const fail = (error: Error) => {
      failure ??= error;
      progress.notify();
    };
    const workerData: AnalysisWorkerData = { maxBytes: this.options.maxBytes, store: this.options.store };
    for (let i = 0; i < Math.max(1, this.options.jobs); i++) {
      const entry: PoolWorker = { worker: startWorker(import.meta.url, './import-worker.ts', { workerData }), inFlight: 0 };
      entry.worker.on('message', (messages: AnalysisMessage[]) => {
        for (const message of messages) {
          entry.inFlight--;
          const job = jobs.get(message.index)!;
          jobs.delete(message.index);
          if (message.ok) {
            results.set(message.index, { ok: true, path: job.path, analysed: message.analysed, staged: message.staged });
          } else {
            results.set(message.index, { ok: false, path: job.path, filename: job.name, code: message.code, message: message.message });
          }
        }
        progress.notify();
      });
      entry.worker.on('error', (error) => fail(error));
      entry.worker.on('exit', (code) => {
        if (!this.closing) fail(new CairnError('internal.error', `an import worker stopped (exit code ${code})`));
      });
      this.workers.push(entry);
    }

    // Jobs go out in groups (one message per group, not per file), to the least busy worker.
    const outgoing: AnalysisJob[] = [];
    const send = () => {
      if (outgoing.length === 0) return;
      const target = this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
      target.inFlight += outgoing.length;
      target.worker.postMessage(outgoing.splice(0));
    };
    const dispatch = async () => {
      let index = 0;
      for await (const entry of entries) {
        if (failure) return;
        if (entry.kind === 'refused') {
          results.set(index++, { ok: false, path: entry.path, filename: entry.name, code: entry.code, message: entry.message });
          progress.notify();
          continue;
        }
        for (;;) {
          if (failure) return;
          const room = index - awaited < MAX_AHEAD && this.workers.some((w) => w.inFlight + outgoing.length < QUEUE_PER_WORKER);
          if (room) break;
          send();
          await progress.wait();
        }
        const job: AnalysisJob = { index: index++, path: entry.path, name: entry.name, open: entry.open, viaSymlink: entry.viaSymlink };
        jobs.set(job.index, job);
        outgoing.push(job);
        // Small groups while the workers are idle (the start, a slow walk), larger once they are busy.
        if (outgoing.length >= JOBS_PER_MESSAGE || this.workers.some((w) => w.inFlight === 0)) send();
      }
      send();
      total = index;
      progress.notify();
    };
    const dispatching = dispatch().catch((error: Error) => fail(error));

    try {
      for (;;) {
        if (failure) throw failure;
        const result = results.get(awaited);
        if (result) {
          results.delete(awaited);
          awaited++;
          progress.notify();
          yield result;
          continue;
        }
        if (total !== null && awaited >= total) return;
        await progress.wait();
      }
    } finally {
      failure ??= new CairnError('internal.error', 'the import stopped');
      progress.notify();
      await dispatching;
      const staged: StagedBlob[] = [];
      for (const result of results.values()) if (result.ok) staged.push(result.staged);
      await abandon(staged);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
    this.workers.length = 0;
  }
}
