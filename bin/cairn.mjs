#!/usr/bin/env node
// The `cairn` command. It runs the compiled JavaScript in dist/ (built by `npm ci` through the
// `prepare` script, or `npm run build`), so a command starts in tenths of a second instead of
// transpiling TypeScript first. In a checkout whose src/ changed since that build it runs the
// sources through tsx instead, so an edit never runs stale code. CAIRN_RUN_FROM=compiled insists
// on the build (and fails if it is missing or stale: the test of the compiled CLI uses it);
// CAIRN_RUN_FROM=sources insists on the sources.
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { compiledState, isSupportedNode, rerunUnderPinnedNode, unsupportedNodeMessage } from './runtime.mjs';

if (!isSupportedNode()) {
  const rerun = rerunUnderPinnedNode(fileURLToPath(import.meta.url), process.argv.slice(2));
  if (!rerun) {
    console.error(unsupportedNodeMessage());
    process.exit(2);
  }
  process.exit(await rerun);
}

// `cairn serve` runs with V8's memory reducer off. After a busy spell followed by a quiet one
// the reducer compacts the whole heap at once; with 400,000 pages indexed in the page cache (1M
// files) that pause held the event loop for 78 ms (a 72 ms compaction), where ordinary full collections paused
// it for 11–20 ms. The flag must be given when the process starts (it is read when the heap is
// set up), so the process replaces itself once with the flag (same pid: signals and supervisors
// see one process). `node --memory-reducer bin/cairn.mjs serve` keeps the reducer.
if (process.argv[2] === 'serve' && typeof process.execve === 'function' && !process.execArgv.some((a) => /^--(no-)?memory-reducer$/.test(a))) {
  process.execve(process.execPath, [process.execPath, '--no-memory-reducer', ...process.execArgv, ...process.argv.slice(1)], process.env);
}

// V8's code cache for the modules this process loads (Node 22.1+), kept in the OS temp folder:
// the second start of any command skips compiling cairn's and its dependencies' JavaScript.
module.enableCompileCache?.();

const runFrom = process.env.CAIRN_RUN_FROM;
const state = runFrom === 'sources' ? null : compiledState();
if (runFrom === 'compiled' && !state.current) {
  console.error(`cairn: CAIRN_RUN_FROM=compiled, but ${state.reason}`);
  process.exit(2);
}
if (state?.current) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
