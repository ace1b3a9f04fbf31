import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Node 20 does not apply a worker's `--import` loader hooks to the worker's own entry module, so
 * there the worker starts on a bootstrap that registers tsx and then imports the module.
 */
const HOOKS_APPLY_TO_WORKER_ENTRY = Number(process.versions.node.split('.')[0]) >= 22;

/**
 * Starts a worker thread on a module beside the caller, given by its TypeScript name
 * (`./tuf-worker.ts`). From the sources the worker runs through tsx like its parent; from compiled
 * JavaScript (a `.js` caller) it loads the `.js` module next to it. No other inherited flags: the
 * parent's (`-e`, test-runner flags) can stop a worker from starting.
 */
export function startWorker(callerUrl: string, tsModule: string, options: Omit<WorkerOptions, 'execArgv'> = {}): Worker {
  const fromSources = callerUrl.endsWith('.ts');
  const module = new URL(fromSources ? tsModule : tsModule.replace(/\.ts$/, '.js'), callerUrl);
  if (!fromSources) return new Worker(module, { ...options, execArgv: [] });
  if (HOOKS_APPLY_TO_WORKER_ENTRY) return new Worker(module, { ...options, execArgv: ['--import', 'tsx'] });
  // tsx is resolved here, from cairn's own dependencies: the worker's working directory may be anywhere.
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true, execArgv: [] });
}
