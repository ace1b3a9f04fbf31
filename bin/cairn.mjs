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

// `cairn serve` starts with three V8 heap settings, each kept out when the command line gives its own:
// - the memory reducer off: after a busy spell followed by a quiet one it compacts the whole heap
//   at once; with 400,000 pages indexed in the page cache (1M files) that pause held the event
//   loop for 78 ms, where ordinary full collections paused it for 11–20 ms;
// - an old generation of at least 256 MiB before a full collection is due: a server allocates
//   slowly between bursts, so V8 sized the old generation a few MB above what was live and, as its
//   free room stayed under twice the young generation, kept marking without pause; during a bulk
//   import that was a full collection every 3–5 s (161 in 15 minutes at 1M files), each a chance
//   of a 30–90 ms pause on a busy machine;
// - a young generation of at most 16 MiB: V8 grows it to 64 MiB when much of what is allocated
//   survives, and a young collection copies what survives, on the event loop. Filling the page
//   cache (400,000 index entries at 1M files, each kept) survives almost whole: at 64 MiB those
//   collections paused the server 30–83 ms; PostgreSQL rows in flight during an import, 20–73 ms.
// The flags must be given when the process starts (they are read when the heap is set up), so the
// process replaces itself once with them (same pid: signals and supervisors see one process).
// A flag given on the command line is used instead (`node --memory-reducer bin/cairn.mjs serve`,
// `--initial-old-space-size=N`).
const SERVE_HEAP_FLAGS = [
  { given: /^--(no-)?memory-reducer$/, flag: '--no-memory-reducer' },
  { given: /^--initial-(old-space|heap)-size(=|$)/, flag: '--initial-old-space-size=256' },
  { given: /^--max-semi-space-size(=|$)/, flag: '--max-semi-space-size=16' },
];
if (process.argv[2] === 'serve' && typeof process.execve === 'function') {
  const missing = SERVE_HEAP_FLAGS.filter(({ given }) => !process.execArgv.some((a) => given.test(a))).map(({ flag }) => flag);
  if (missing.length > 0) process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env);
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
