import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exitCodeFor, isErrorCode, type ErrorCode } from '../../src/errors.ts';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { postgresAvailable, POSTGRES_ADMIN_URL } from '../support/postgres.ts';
import { skipUnless } from '../support/requirements.ts';

/**
 * The exit-code table every command follows (README "Commands"): 0 success, 1 verification or
 * policy failure, 2 usage error, 3 network or server error. One case per exit code, then each
 * mapping the newcomer's hour (issue 14) found off the table, walked through the CLI as a user
 * types it. Each case asserts the exit code and the stable error code, not only the message.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-exit-'));
after(() => rmSync(work, { recursive: true, force: true }));
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

const BUILD_POLICY = join(work, 'build-policy.toml');
const NO_BUILDERS = join(work, 'no-builders.toml');
writeFileSync(BUILD_POLICY, 'version = 1\n[defaults]\nrequire = "build"\n[[builders]]\nissuer = "https://token.actions.githubusercontent.com"\nidentity = "https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v*"\n');
writeFileSync(NO_BUILDERS, 'version = 1\n[defaults]\nrequire = "build"\n');
const wheel = makeDistribution(work, { name: 'exit-demo', version: '1.0', kind: 'wheel' });
const postgresSkip = skipUnless(await postgresAvailable(), 'PostgreSQL at 127.0.0.1:5432');

/** A loopback port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function assertCoded(result: { status: number | null; stderr: string; output: string }, exit: number, code: ErrorCode, message?: RegExp): void {
  assert.equal(result.status, exit, result.output);
  assert.equal(exitCodeFor(code), exit, `errors.ts maps ${code} to exit ${exit}`);
  assert.match(result.stderr, new RegExp(`^error \\[${code.replaceAll('.', '\\.')}\\]: `, 'm'), result.output);
  if (message) assert.match(result.stderr, message, result.output);
  assert.doesNotMatch(result.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
}

describe('the exit-code table, one case per code', () => {
  test('the README documents the table', () => {
    assert.match(README, /Exit codes \(every command\): 0 ok, 1 verification or policy failure, 2 usage error, 3 network or\s+server error/);
  });

  test('0: success (`cairn --version`, a valid policy)', async () => {
    const version = await runCairn(['--version']);
    assert.equal(version.status, 0, version.output);
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    const check = await runCairn(['policy', 'check', BUILD_POLICY]);
    assert.equal(check.status, 0, check.output);
    assert.match(check.stdout, /valid \(1 builder\(s\), 0 publisher\(s\), 0 project rule\(s\)\)/);
  });

  test('1: a verification or policy failure (a file without the provenance the policy requires)', async () => {
    const result = await runCairn(['verify', '--policy', BUILD_POLICY, '--cache-dir', join(work, 'cache'), wheel.path]);
    assert.equal(result.status, 1, result.output);
    assert.match(result.stdout, /FAIL +\[policy\.missing_provenance\]/);
  });

  test('2: a usage error (commander refusing an option; a requirement without --index)', async () => {
    const unknown = await runCairn(['verify', '--no-such-option']);
    assert.equal(unknown.status, 2, unknown.output);
    assert.match(unknown.stderr, /unknown option '--no-such-option'/);
    // Was a table row ERROR with exit 3: the command line is incomplete, said before anything runs.
    const noIndex = await runCairn(['verify', '--policy', BUILD_POLICY, 'exit-demo==1.0'], { env: { CAIRN_INDEX_URL: undefined } });
    assertCoded(noIndex, 2, 'usage.invalid_argument', /exit-demo==1\.0: give --index URL \(the index's base URL/);
    assert.equal(noIndex.stdout, '', 'no table');
  });

  test('3: a network error (an index that does not answer)', async () => {
    const port = await closedPort();
    const result = await runCairn(['verify', '--policy', BUILD_POLICY, '--index', `http://127.0.0.1:${port}`, '--cache-dir', join(work, 'cache-net'), 'exit-demo==1.0']);
    assert.equal(result.status, 3, result.output);
    assert.match(result.stdout, /ERROR +\[network\.error\] cannot reach http:\/\/127\.0\.0\.1:\d+\/simple\/exit-demo\//);
  });
});

describe('codes the newcomer found off the table', () => {
  let taken: Server;
  let takenPort: number;
  before(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    takenPort = (taken.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  test('a taken port: server.port_in_use, exit 3, naming the port and --port (serve, proxy, dev-trust)', async () => {
    const dataDir = join(work, 'serve-data');
    const serve = await runCairn(['serve', '--port', String(takenPort), '--data-dir', dataDir, '--quiet']);
    assertCoded(serve, 3, 'server.port_in_use', new RegExp(`port ${takenPort} on 127\\.0\\.0\\.1 is taken .*choose another port with --port`));
    const proxy = await runCairn(['proxy', '--upstream', 'http://127.0.0.1:9', '--policy', BUILD_POLICY, '--port', String(takenPort), '--cache-dir', join(work, 'proxy-cache'), '--quiet']);
    assertCoded(proxy, 3, 'server.port_in_use', new RegExp(`port ${takenPort} .*--port`));
    const devTrust = await runCairn(['dev-trust', '--port', String(takenPort), '--out', join(work, 'dev-trust'), '--quiet']);
    assertCoded(devTrust, 3, 'server.port_in_use', new RegExp(`port ${takenPort} .*--port`));
  });

  test('an admin command on a data directory that does not exist: storage.not_found, exit 2, nothing created', async () => {
    const typo = join(work, 'dta');
    const result = await runCairn(['admin', 'token', 'create', '--new-projects', '--data-dir', typo]);
    assertCoded(result, 2, 'storage.not_found', /no index at .*dta: the directory does not exist\. Check --data-dir .*pass --create/);
    assert.equal(result.stdout, '', 'no token printed');
    assert.throws(() => readFileSync(join(typo, 'cairn.sqlite')), /ENOENT/);
    // Asked for, a new index is made, and the token says which index it lives in.
    const created = await runCairn(['admin', 'token', 'create', '--new-projects', '--data-dir', typo, '--create']);
    assert.equal(created.status, 0, created.output);
    assert.match(created.stderr, new RegExp(`^index: sqlite:${typo.replaceAll('/', '\\/')}/cairn\\.sqlite$`, 'm'));
  });

  test('a PostgreSQL URL without a database, or naming the maintenance database: config.invalid, exit 2', async () => {
    const dataDir = mkdtempSync(join(work, 'pg-'));
    for (const url of ['postgres://postgres@127.0.0.1:5432', 'postgres://postgres@127.0.0.1:5432/', 'postgres://postgres@127.0.0.1:5432/postgres', 'postgresql://u:secret@db.example/template1']) {
      const result = await runCairn(['admin', 'token', 'list', '--data-dir', dataDir, '--database-url', url]);
      assertCoded(result, 2, 'config.invalid', /give cairn its own, postgres:\/\/user@host:port\/DATABASE/);
    }
  });

  test('PostgreSQL refusing the connection: database.unavailable, exit 3 (a network error, not a configuration one)', async () => {
    const port = await closedPort();
    const dataDir = mkdtempSync(join(work, 'pg-down-'));
    const result = await runCairn(['admin', 'token', 'list', '--data-dir', dataDir, '--database-url', `postgres://cairn:secret@127.0.0.1:${port}/cairn`]);
    assertCoded(result, 3, 'database.unavailable', new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port} is not reachable \\(ECONNREFUSED\\)`));
    assert.doesNotMatch(result.output, /secret/, 'the password is never printed');
    const serve = await runCairn(['serve', '--port', '0', '--data-dir', dataDir, '--database-url', `postgres://cairn@127.0.0.1:${port}/cairn`, '--quiet']);
    assertCoded(serve, 3, 'database.unavailable');
  });

  test('a database that does not exist on a running PostgreSQL: config.invalid, exit 2', { skip: postgresSkip }, async () => {
    const url = new URL(POSTGRES_ADMIN_URL);
    url.pathname = '/cairn_no_such_database';
    const result = await runCairn(['admin', 'token', 'list', '--data-dir', mkdtempSync(join(work, 'pg-missing-')), '--database-url', url.toString()]);
    assertCoded(result, 2, 'config.invalid', /database "cairn_no_such_database" does not exist; create it \(createdb NAME\) or fix --database-url/);
  });

  test('a missing build frontend is a missing tool: build.tool_missing, exit 2', async () => {
    // Refused before anything is cloned: the repository need not exist.
    const commit = 'c'.repeat(40);
    const jwt = [{ alg: 'none' }, { sha: commit, iss: 'https://ci.example', sub: 'x', aud: 'sigstore' }, 'sig'].map((p) => (typeof p === 'string' ? p : Buffer.from(JSON.stringify(p)).toString('base64url'))).join('.');
    const token = join(work, 'build.jwt');
    writeFileSync(token, jwt);
    const result = await runCairn(['build', '--repo', join(work, 'no-repo'), '--commit', commit, '--source-uri', 'https://github.com/o/r', '--oidc-token-file', token, '--out', join(work, 'out'), '--python', join(work, 'no-python')]);
    assertCoded(result, 2, 'build.tool_missing', /cannot build with .*no-python \(--python\): not found\. Either install the frontend for it .*or name an interpreter that has it with --python PATH \(or CAIRN_PYTHON=PATH\)/);
  });

  test('every code in errors.ts maps to exit 1, 2 or 3', () => {
    for (const code of ['network.error', 'server.port_in_use', 'database.unavailable', 'storage.not_found', 'build.tool_missing', 'request.wrong_url', 'usage.invalid_argument']) {
      assert.ok(isErrorCode(code), code);
    }
    assert.deepEqual([exitCodeFor('policy.missing_provenance'), exitCodeFor('usage.invalid_argument'), exitCodeFor('network.error')], [1, 2, 3]);
  });
});
