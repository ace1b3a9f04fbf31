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
