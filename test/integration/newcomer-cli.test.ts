import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CAIRN_BIN, runCairn } from '../support/commands.ts';

/**
 * What a newcomer reads in their first hour (issue 14, items 4 and 11): the start-up lines of
 * `cairn serve` (which index, and the next steps), the header of `admin token list`, the
 * warning of `policy check` about a policy that trusts nobody, and a checkout that ignores the
 * flow's scratch files.
 */
const ROOT = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'cairn-newcomer-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Starts `cairn serve` and answers its stdout once the next steps are printed, then stops it. */
async function serveStartup(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'serve', '--port', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start-up lines: ${out}`)), 60_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/install: .*\n/.test(out)) {
          clearTimeout(timer);
          resolve(out);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
    });
  } finally {
    child.kill('SIGTERM');
  }
}

test('cairn serve says which database it uses and what to do next', async () => {
  const dataDir = join(work, 'index-data');
  const out = await serveStartup(['--data-dir', dataDir]);
  const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
  assert.ok(url, out);
  assert.match(out, new RegExp(`\\(data: ${dataDir}, database: sqlite:${dataDir}/cairn\\.sqlite\\)`));
  // Not the default ./data: the token command names the same data directory, or it would be refused.
  assert.match(out, new RegExp(`an upload token: +TOKEN=\\$\\(npx cairn admin token create --new-projects --data-dir ${dataDir}\\)`));
  assert.match(out, new RegExp(`upload: +twine upload --repository-url ${url}/legacy/ -u __token__ -p "\\$TOKEN" dist/\\*`));
  assert.match(out, new RegExp(`install: +pip install --index-url ${url}/simple/ NAME`));

  // The printed command works as printed, on the index the server made.
  const token = await runCairn(['admin', 'token', 'create', '--new-projects', '--data-dir', dataDir]);
  assert.equal(token.status, 0, token.output);
  assert.match(token.stderr, new RegExp(`^index: sqlite:${dataDir}/cairn\\.sqlite$`, 'm'));
});

test('admin token list starts with a header row naming its columns', async () => {
  const dataDir = join(work, 'index-data');
  const listed = await runCairn(['admin', 'token', 'list', '--data-dir', dataDir]);
  assert.equal(listed.status, 0, listed.output);
  const [header, first] = listed.stdout.split('\n');
  assert.equal(header, 'ID\tSTATE\tSCOPE\tCREATED\tEXPIRES\tLAST USED\tDESCRIPTION');
  assert.match(first ?? '', /^1\tactive\tnew-projects\tcreated \S+\tno expiry\tnever used$/);
});

test('policy check warns that a policy requiring build provenance with no [[builders]] trusts nobody', async () => {
  const policy = join(work, 'nobody.toml');
  writeFileSync(policy, 'version = 1\n[defaults]\nrequire = "build"\n\n[projects.special]\nrequire = "publish"\n');
  const result = await runCairn(['policy', 'check', policy]);
  assert.equal(result.status, 0, 'the file is valid');
  assert.match(result.stdout, /valid \(0 builder\(s\), 0 publisher\(s\), 1 project rule\(s\)\)/);
  assert.match(result.stderr, /^warning: \[defaults\] require = "build" but the policy names no \[\[builders\]\]: it trusts nobody, so every file fails \(policy\.trusts_nobody\)/m);
  assert.match(result.stderr, /^warning: \[projects\.special\] require = "publish" but the policy names no \[\[publishers\]\]/m);
  const example = join(work, 'example.toml');
  assert.equal((await runCairn(['policy', 'init', example])).status, 0);
  const quiet = await runCairn(['policy', 'check', example]);
  assert.equal(quiet.stderr, '', 'the example policy names its signers');
});

test('the flow\'s scratch files are ignored by git in a checkout', () => {
  const scratch = ['build.jwt', 'publish.jwt', 'dist/x.whl', 'dist-provenance/x.whl.sigstore.json', 'cairn-policy.toml', 'data/cairn.sqlite'];
  const result = spawnSync('git', ['check-ignore', '--no-index', ...scratch], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(result.stdout.trim().split('\n'), scratch);
  assert.match(readFileSync(join(ROOT, '.gitignore'), 'utf8'), /^\*\.jwt$/m);
});
