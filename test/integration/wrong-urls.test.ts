import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCairn, runCommand } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { createVenv, PIP_ENV } from '../support/python-projects.ts';
import { hasPythonBuildTools, skipUnless, TWINE } from '../support/requirements.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The URLs a newcomer gives the wrong tool (issue 14, item 5): the base URL or `/simple/` to
 * twine, `/legacy/` to cairn's own `--index`, the base URL to pip. Each is answered with the
 * right path, or, for cairn's `--index`, simply accepted.
 */
const skipTools = skipUnless(hasPythonBuildTools(), 'Debian twine and python3-venv');

describe('wrong URLs are answered with the right one', () => {
  let server: TestServer;
  let work: string;
  let wheel: { path: string; filename: string };
  let token: string;
  let policy: string;

  before(async () => {
    server = await startTestServer('sqlite');
    work = mkdtempSync(join(tmpdir(), 'cairn-urls-'));
    wheel = makeDistribution(work, { name: 'url-demo', version: '1.0', kind: 'wheel' });
    token = await server.token('new_projects');
    policy = join(work, 'policy.toml');
    writeFileSync(policy, 'version = 1\n[defaults]\nrequire = "none"\n');
  });
  after(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const storedFiles = async () => (await server.services.db.selectFrom('files').select('filename').execute()).map((f) => f.filename);

  test('an upload posted to the base URL or to /simple/ is refused with the /legacy/ URL, in the status line', async () => {
    for (const path of ['/', '/simple/']) {
      const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--\r\n' });
      assert.equal(response.status, 404, path);
      assert.match(response.statusText, new RegExp(`uploads go to ${server.url}/legacy/`), path);
      const body = (await response.json()) as { code: string };
      assert.equal(body.code, 'request.wrong_url');
    }
    assert.deepEqual(await storedFiles(), []);
  });

  test('twine --repository-url BASE or BASE/simple/ says where uploads go', { skip: skipTools }, async () => {
    for (const url of [server.url, `${server.url}/simple/`]) {
      const twine = await runCommand(TWINE, ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', url, '-u', '__token__', '-p', token, wheel.path]);
      assert.notEqual(twine.status, 0, twine.output);
      // twine wraps its error box: compare the words.
      const said = twine.output.replace(/\s+/g, ' ');
      assert.match(said, new RegExp(`HTTPError: 404 .*uploads go to ${server.url}/legacy/ \\(twine upload --repository-url ${server.url}/legacy/\\)`), twine.output);
    }
    assert.deepEqual(await storedFiles(), [], 'nothing was stored');
  });

  test('cairn publish accepts --index BASE/legacy/ and prints the release page', async () => {
    const published = await runCairn(['publish', '--index', `${server.url}/legacy/`, '--token', token, wheel.path]);
    assert.equal(published.status, 0, published.output);
    assert.match(published.stdout, / url_demo-1\.0-py3-none-any\.whl 100%$/m);
    assert.match(published.stdout, new RegExp(`release page: ${server.url}/project/url-demo/1\\.0/`));
    assert.deepEqual(await storedFiles(), [wheel.filename]);
  });

  test('cairn verify accepts --index BASE/legacy/ and BASE/simple/', async () => {
    for (const index of [`${server.url}/legacy/`, `${server.url}/simple/`]) {
      const verified = await runCairn(['verify', '--policy', policy, '--index', index, '--cache-dir', join(work, 'cache'), 'url-demo==1.0']);
      assert.equal(verified.status, 0, verified.output);
      assert.match(verified.stdout, /1 file\(s\): 1 passed/);
    }
  });

  test('cairn verify --index naming something that is no index is a usage error (exit 2), not a failed verification', async () => {
    const wrong = await runCairn(['verify', '--policy', policy, '--index', `${server.url}/project/`, '--cache-dir', join(work, 'cache'), 'url-demo==1.0']);
    assert.equal(wrong.status, 2, wrong.output);
    assert.match(wrong.stderr, /error \[usage\.invalid_argument\]: .*\/project is not a package index .*--index is the index's base URL/);
  });

  test('an installer asking BASE/NAME/ is sent to BASE/simple/NAME/; a browser is told the right URLs', async () => {
    const pip = await fetch(`${server.url}/url-demo/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json, text/html;q=0.01' }, redirect: 'manual' });
    assert.equal(pip.status, 301);
    assert.equal(pip.headers.get('location'), '/simple/url-demo/');
    const browser = await fetch(`${server.url}/url-demo/`, { headers: { accept: 'text/html' } });
    assert.equal(browser.status, 404);
    const body = (await browser.json()) as { code: string; message: string };
    assert.equal(body.code, 'request.wrong_url');
    assert.match(body.message, new RegExp(`pip install --index-url ${server.url}/simple/ url-demo`));
  });

  test('pip install --index-url BASE/ installs from the index', { skip: skipTools }, async () => {
    const venvDir = mkdtempSync(join(tmpdir(), 'cairn-urls-venv-'));
    try {
      const venv = createVenv(venvDir);
      const install = await runCommand(venv.pip, ['install', '--index-url', `${server.url}/`, 'url-demo==1.0'], { env: PIP_ENV });
      assert.equal(install.status, 0, install.output);
      assert.match(install.stdout, /Successfully installed url-demo-1\.0/);
    } finally {
      rmSync(venvDir, { recursive: true, force: true });
    }
  });
});
