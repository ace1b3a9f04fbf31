import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module beside the caller, given by its TypeScript name
 * (`./tuf-worker.ts`). From the sources the worker runs through tsx like its parent; from compiled
 * JavaScript (a `.js` caller) it loads the `.js` module next to it. No other inherited flags: the
 * parent's (`-e`, test-runner flags) can stop a worker from starting.
 */
export function startWorker(callerUrl: string, tsModule: string, options: Omit<WorkerOptions, 'execArgv'> = {}): Worker {
  const fromSources = callerUrl.endsWith('.ts');
  const module = fromSources ? tsModule : tsModule.replace(/\.ts$/, '.js');
  return new Worker(new URL(module, callerUrl), { ...options, execArgv: fromSources ? ['--import', 'tsx'] : [] });
}
