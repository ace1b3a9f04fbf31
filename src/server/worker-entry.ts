import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on a module beside the caller, given by its TypeScript name
 * (`./tuf-worker.ts`). From the sources the worker runs through tsx like its parent (a small
 * bootstrap registers it, since workers do not inherit loader hooks); from compiled JavaScript (a
 * `.js` caller) it loads the `.js` module next to it. No inherited flags: the parent's (`-e`,
 * test-runner flags) can stop a worker from starting.
 */
export function startWorker(callerUrl: string, tsModule: string, options: Omit<WorkerOptions, 'execArgv' | 'argv'> = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(tsModule.replace(/\.ts$/, '.js'), callerUrl), { ...options, execArgv: [] });
  const module = new URL(tsModule, callerUrl).href;
  return new Worker(new URL('./ts-worker-bootstrap.mjs', import.meta.url), { ...options, execArgv: [], argv: [module] });
}
