#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` builds): compiles src/ to dist/ with tsc
// (tsconfig.build.json: `./x.ts` imports become `./x.js`, declarations for the library API) and
// copies the files that are not TypeScript — the plain-JavaScript digest worker, the web UI's
// static files — to the same places under dist/, where the compiled modules look for them
// relative to their own URL. The build goes to a temporary folder that replaces dist/ at the end,
// so a CLI started meanwhile sees the old build or the new one, never half of one.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { isSupportedNode, newestSourceMtimeMs, pinnedNode, ROOT, unsupportedNodeMessage, writeBuildInfo } from '../bin/runtime.mjs';

const src = join(ROOT, 'src');
const dist = join(ROOT, 'dist');
const temp = join(ROOT, `dist.${process.pid}.tmp`);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // `npm ci --omit=dev` has no TypeScript: bin/cairn.mjs then runs the sources through tsx.
  console.warn('cairn build: typescript is not installed (--omit=dev?); skipped, the CLI will run from the sources');
  process.exit(0);
}

const node = isSupportedNode() ? process.execPath : pinnedNode();
if (!node) {
  console.error(unsupportedNodeMessage());
  process.exit(1);
}

const sourceMtimeMs = newestSourceMtimeMs();
rmSync(temp, { recursive: true, force: true });
const compiled = spawnSync(node, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', temp], { stdio: 'inherit', cwd: ROOT });
if (compiled.status !== 0) {
  rmSync(temp, { recursive: true, force: true });
  console.error('cairn build: tsc failed');
  process.exit(compiled.status ?? 1);
}

let assets = 0;
const copyAssets = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) copyAssets(path);
    else if (!entry.name.endsWith('.ts')) {
      cpSync(path, join(temp, relative(src, path)));
      assets++;
    }
  }
};
copyAssets(src);
writeBuildInfo(temp, sourceMtimeMs);

rmSync(dist, { recursive: true, force: true });
renameSync(temp, dist);
if (!existsSync(join(dist, 'cli', 'main.js'))) {
  console.error('cairn build: dist/cli/main.js is missing after the build');
  process.exit(1);
}
console.log(`cairn build: dist/ from src/ (${assets} non-TypeScript files copied)`);
