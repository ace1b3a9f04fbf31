import type { PostgresTimeouts } from '../storage/postgres-pool.ts';
import type { Worker } from 'node:worker_threads';
import { CairnError, isErrorCode } from '../../errors.ts';
import { startWorker } from '../worker-entry.ts';
import type { TufRefreshOutcome, TufRepository, TufService, TufSettings } from './tuf-repository.ts';
import type { TufWorkerData, TufWorkerReply } from './tuf-worker.ts';

/** After a commit, how long to wait for more before refreshing: a burst of uploads costs one refresh. */
const CHANGE_DEBOUNCE_MS = 500;
/**
 * A worker idle this long is retired, and the next refresh starts a fresh one. A refresh that
 * signs many bins (the first build of a 1M-file catalogue) leaves ~160 MB of heap committed in the
 * worker, which V8 gives back only in an idle-time compaction, and `cairn serve` runs with that
 * compaction off (bin/cairn.mjs). Starting a worker costs tenths of a second, once per quiet spell.
 */
export const IDLE_WORKER_MS = 30_000;

/**
 * The TUF repository as `cairn serve` runs it: refreshes (the signing) run on a worker thread;
 * reads of published metadata are plain lookups on the serving thread. A refresh also runs soon
 * after every change, so a CDN or mirror polling timestamp.json finds it fresh.
 */
export class BackgroundTuf implements TufService {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(outcome: TufRefreshOutcome): void; reject(error: Error): void }>();
  private inFlight: Promise<TufRefreshOutcome> | null = null;
  private again = false;
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly reader: TufRepository,
    private readonly options: {
      databaseUrl: string;
      postgresTimeouts?: PostgresTimeouts;
      dataDir: string;
      settings: TufSettings;
      warn(message: string): void;
      onRefreshed?: (outcome: TufRefreshOutcome) => void;
      /** How long an idle worker is kept (IDLE_WORKER_MS). */
      idleWorkerMs?: number;
    },
  ) {}

  /** Whether a worker thread is running (for tests: an idle one is retired). */
  get workerRunning(): boolean {
    return this.worker !== null;
  }

  /**
   * One refresh in the worker at a time; callers arriving while one runs share the next, which
   * starts after it (so it sees what they committed).
   */
  refresh(): Promise<TufRefreshOutcome> {
    if (!this.inFlight) {
      this.inFlight = this.run().finally(() => {
        this.inFlight = null;
      });
      return this.inFlight;
    }
    this.again = true;
    return this.inFlight.then(
      () => this.refresh(),
      () => this.refresh(),
    );
  }

  private async run(): Promise<TufRefreshOutcome> {
    this.again = false;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.ensureWorker();
    const id = this.nextId++;
    worker.ref();
    try {
      return await new Promise<TufRefreshOutcome>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject });
        worker.postMessage({ id, type: 'refresh' });
      });
    } finally {
      if (this.waiting.size === 0) {
        worker.unref();
        this.retireWhenIdle(worker);
      }
    }
  }

  private retireWhenIdle(worker: Worker): void {
    if (this.closed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.worker !== worker || this.waiting.size > 0 || this.inFlight) return;
      // Detached first: a refresh asked for from now on starts a fresh worker.
      this.worker = null;
      worker.postMessage({ type: 'close' });
    }, this.options.idleWorkerMs ?? IDLE_WORKER_MS);
    this.idleTimer.unref();
  }

  readMetadata(name: string): Promise<Buffer | null> {
    return this.reader.readMetadata(name);
  }

  async latestRoot(): Promise<{ bytes: Buffer; version: number }> {
    if (!(await this.reader.readMetadata('timestamp.json'))) await this.refresh();
    return this.reader.latestRoot();
  }

  changed(): void {
    if (this.closed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.refresh().catch((error: unknown) => this.options.warn(`TUF refresh after a change failed: ${(error as Error).message}`));
    }, CHANGE_DEBOUNCE_MS);
    this.debounce.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.inFlight?.catch(() => undefined);
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const data: TufWorkerData = { databaseUrl: this.options.databaseUrl, postgresTimeouts: this.options.postgresTimeouts, dataDir: this.options.dataDir, settings: this.options.settings };
    const worker = startWorker(import.meta.url, './tuf-worker.ts', { workerData: data });
    worker.unref();
    worker.on('message', (reply: TufWorkerReply) => {
      if ('warning' in reply) {
        this.options.warn(reply.warning);
        return;
      }
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if ('outcome' in reply) {
        this.options.onRefreshed?.(reply.outcome);
        waiter.resolve(reply.outcome);
      }
      else waiter.reject(new CairnError(reply.error.code && isErrorCode(reply.error.code) ? reply.error.code : 'internal.error', reply.error.message));
    });
    const fail = (error: Error) => {
      // A broken worker fails the refreshes it was running; the next refresh starts a fresh one.
      // A retired worker had none, and the refreshes waiting now are a newer worker's.
      if (this.worker !== worker) return;
      this.worker = null;
      for (const waiter of this.waiting.values()) waiter.reject(new CairnError('internal.error', `the TUF worker stopped: ${error.message}`));
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`exit code ${code}`));
    });
    this.worker = worker;
    return worker;
  }
}
