import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compiledState } from '../../bin/runtime.mjs';
import { runCommand } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * The compiled JavaScript as users run it: `bin/cairn.mjs` with CAIRN_RUN_FROM=compiled, which
 * refuses to fall back to the sources, so a build that is broken, incomplete or missing a file
 * that is not TypeScript (the digest worker, the web UI's static files) fails here. The rest of
 * the suite imports the sources through tsx. In CI dist/ is the build `npm ci` made; in a
 * checkout whose sources changed since, this file rebuilds it first.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/cairn.mjs');
const compiled = { ...process.env, CAIRN_RUN_FROM: 'compiled' };
const work = mkdtempSync(join(tmpdir(), 'cairn-compiled-'));
after(() => rmSync(work, { recursive: true, force: true }));

before(() => {
  if (compiledState().current) return;
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, `npm run build failed:\n${built.stdout}\n${built.stderr}`);
});

const cairn = (args: string[]) => runCommand(process.execPath, [BIN, ...args], { env: compiled, timeoutMs: 60_000 });

describe('the compiled CLI', () => {
  test('--help lists every command, from dist/', async () => {
    assert.ok(existsSync(join(ROOT, 'dist/cli/main.js')));
    const result = await cairn(['--help']);
    assert.equal(result.status, 0, result.output);
    for (const name of ['serve', 'admin', 'dev-trust', 'build', 'publish', 'policy', 'verify', 'proxy']) assert.match(result.stdout, new RegExp(`^  ${name}\\b`, 'm'));
     // package.json is found from dist/cli/ as from src/cli/.
    const version = await cairn(['--version']);
    assert.equal(version.status, 0, version.output);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('a command module runs (policy init writes the example policy)', async () => {
    const path = join(work, 'policy.toml');
    const result = await runCommand(process.execPath, [BIN, 'policy', 'init', path], { env: compiled, cwd: work });
    assert.equal(result.status, 0, result.output);
    assert.ok(existsSync(path));
  });

  test('CAIRN_RUN_FROM=compiled refuses a missing build rather than running the sources', () => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', `import { compiledState } from ${JSON.stringify(join(ROOT, 'bin/runtime.mjs'))}; console.log(JSON.stringify(compiledState(${JSON.stringify(work)})))`], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { current: false, sources: false, reason: 'dist/ has not been built (npm run build)' });
  });

  test('serve: pages, static files and an upload (digest worker threads) from the compiled server', async () => {
    const dataDir = join(work, 'data');
    const token = await runCommand(process.execPath, [BIN, 'admin', 'token', 'create', '--new-projects', '--data-dir', dataDir, '--create'], { env: compiled });
    assert.equal(token.status, 0, token.output);
    let child: ChildProcess | null = null;
    try {
      child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], { env: compiled, stdio: ['ignore', 'pipe', 'pipe'] });
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no "listening on" line: ${out}`)), 30_000);
        const read = (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        };
        child!.stdout!.on('data', read);
        child!.stderr!.on('data', read);
        child!.on('exit', (code) => reject(new Error(`cairn serve exited ${code}: ${out}`)));
      });
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const css = await fetch(`${url}/static/cairn.css`);
      assert.equal(css.status, 200);
      assert.match(css.headers.get('content-type') ?? '', /text\/css/);
      const dist = makeDistribution(work, { name: 'compiled-check', version: '1.0.0', kind: 'wheel' });
      const uploaded = await uploadFile(url, dist.path, basicAuth(token.stdout.trim()));
      assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
      const json = (await (await fetch(`${url}/pypi/compiled-check/json`)).json()) as { urls: { digests: Record<string, string> }[] };
      assert.match(json.urls[0]!.digests.blake2b_256 ?? '', /^[0-9a-f]{64}$/);
      assert.match(json.urls[0]!.digests.md5 ?? '', /^[0-9a-f]{32}$/);
    } finally {
      child?.kill('SIGTERM');
    }
  });

  test('the library API by package name resolves to dist/ with its declarations', () => {
    assert.ok(existsSync(join(ROOT, 'dist/index.d.ts')));
    const script = `const m = await import('cairn'); console.log(import.meta.resolve('cairn'), typeof m.verifyDistribution)`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const [resolved, verifyDistribution] = result.stdout.trim().split(' ');
    assert.equal(resolved, new URL('dist/index.js', `file://${ROOT}`).href);
    assert.equal(verifyDistribution, 'function');
  });
});
