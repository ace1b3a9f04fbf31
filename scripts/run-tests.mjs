#!/usr/bin/env node
// Finds the test files and hands them to node's own test runner. Usage:
// node scripts/run-tests.mjs [path-filter...]. Tests import the TypeScript sources through tsx,
// `cairn` by package name included (the `cairn-source` export condition). They run under the
// Node.js this one is, unless it is older than cairn supports (a machine that ships Node 20):
// then under the pinned Node 24 that `npm ci` installed (bin/runtime.mjs).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isSupportedNode, pinnedNode, unsupportedNodeMessage } from '../bin/runtime.mjs';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (entry.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const files = find(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const node = isSupportedNode() ? process.execPath : pinnedNode();
if (!node) {
  console.error(unsupportedNodeMessage());
  process.exit(1);
}
const concurrency = process.env.CAIRN_TEST_CONCURRENCY ?? '2';
// node's spec reporter, with suites skipped for a missing tool counted in the closing counts.
const reporter = new URL('./test-reporter.mjs', import.meta.url).href;
const child = spawn(
  node,
  ['--conditions=cairn-source', '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-reporter=${reporter}`, '--test-reporter-destination=stdout', ...files],
  { stdio: 'inherit', cwd: root },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
