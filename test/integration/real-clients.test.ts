import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../support/commands.ts';
import { hasHatchling, hasPythonBuildTools, skipUnless, TWINE } from '../support/requirements.ts';
import { buildDistributions, createVenv, PIP_ENV, writeSampleProject } from '../support/python-projects.ts';
import { startTestServer, testEngines, type TestServer } from '../support/server.ts';

/**
 * The index driven by the real Python tools, as a maintainer and a user would: `python -m build`,
 * `twine upload`, `pip install` / `pip download` — on SQLite and on PostgreSQL.
 */
const skip = skipUnless(hasPythonBuildTools() && hasHatchling(), 'Debian python3-build, python3-setuptools, python3-hatchling, python3-venv and twine');

let work: string;
let coreDists: string[] = [];
let appDists: string[] = [];

before(() => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'cairn-real-'));
  const core = writeSampleProject(work, { name: 'cairn-sample-core', version: '1.0.0', module: 'cairn_sample_core', backend: 'setuptools' });
  const app = writeSampleProject(work, {
    name: 'cairn_sample.app',
    version: '0.2.0',
    module: 'cairn_sample_app',
    backend: 'hatchling',
    dependsOn: 'cairn-sample-core>=1.0',
  });
  coreDists = buildDistributions(core, join(work, 'dist-core'));
  appDists = buildDistributions(app, join(work, 'dist-app'));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function run(command: string, args: string[], env: Record<string, string> = {}) {
  return runCommand(command, args, { env: { ...PIP_ENV, ...env } });
}

function twineUpload(server: TestServer, token: string, files: string[], extra: string[] = []) {
  return run(TWINE, ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${server.url}/legacy/`, '-u', '__token__', '-p', token, ...extra, ...files]);
}

/** Checks a PEP 691 project response against the spec's required shape (plus PEP 700 keys). */
function assertPep691Project(body: Record<string, unknown>): void {
  assert.equal((body.meta as { 'api-version': string })['api-version'].split('.')[0], '1');
  assert.equal(typeof body.name, 'string');
  assert.ok(Array.isArray(body.versions), 'PEP 700 versions');
  for (const file of body.files as Record<string, unknown>[]) {
    assert.equal(typeof file.filename, 'string');
    assert.equal(typeof file.url, 'string');
    const hashes = file.hashes as Record<string, string>;
    assert.match(hashes.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok(file['requires-python'] === null || typeof file['requires-python'] === 'string');
    assert.ok(file.yanked === false || file.yanked === true || typeof file.yanked === 'string');
    assert.equal(typeof file.size, 'number', 'PEP 700 size');
    assert.match(String(file['upload-time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'PEP 700 upload-time');
    assert.match((file['core-metadata'] as { sha256: string }).sha256, /^[0-9a-f]{64}$/, 'PEP 714 core-metadata');
  }
}

for (const { engine, skip: engineSkip } of await testEngines()) {
  describe(`real clients against the index on ${engine}`, { skip: skip || engineSkip }, () => {
    let server: TestServer;
    let token: string;

    before(async () => {
      server = await startTestServer(engine);
      token = await server.token('new_projects');
    });
    after(async () => server?.stop());

    test('twine uploads both projects, and an identical re-upload is accepted as PyPI does', async () => {
      const first = await twineUpload(server, token, [...coreDists, ...appDists]);
      assert.equal(first.status, 0, first.output);
      const again = await twineUpload(server, token, coreDists, ['--skip-existing']);
      assert.equal(again.status, 0, again.output);
      const plainAgain = await twineUpload(server, token, coreDists);
      assert.equal(plainAgain.status, 0, plainAgain.output);
    });

    test('pip installs the app and its dependency from the index into a fresh venv and imports them', async () => {
      const venvDir = mkdtempSync(join(tmpdir(), 'cairn-venv-'));
      try {
        const venv = createVenv(venvDir);
        const install = await run(venv.pip, ['install', '--index-url', `${server.url}/simple/`, 'cairn-sample-app']);
        assert.equal(install.status, 0, install.output);
        assert.match(install.output, /Successfully installed .*cairn[-_]sample[-_]app-0\.2\.0/i);
        const imported = await run(venv.python, ['-c', 'import cairn_sample_app, cairn_sample_core; print(cairn_sample_app.hello(), cairn_sample_core.VERSION)']);
        assert.equal(imported.status, 0, imported.output);
        assert.match(imported.output, /hello from cairn_sample\.app 1\.0\.0/);
      } finally {
        rmSync(venvDir, { recursive: true, force: true });
      }
    });

    test('pip download --only-binary fetches the wheel and its digest matches what was uploaded', async () => {
      const dest = mkdtempSync(join(tmpdir(), 'cairn-dl-'));
      const venvDir = mkdtempSync(join(tmpdir(), 'cairn-venv-'));
      try {
        const venv = createVenv(venvDir);
        const download = await run(venv.pip, ['download', '--only-binary=:all:', '--no-deps', '--index-url', `${server.url}/simple/`, '-d', dest, 'cairn-sample-core==1.0.0']);
        assert.equal(download.status, 0, download.output);
        const [wheel] = readdirSync(dest);
        assert.ok(wheel?.endsWith('.whl'), `expected a wheel, got ${wheel}`);
        const original = coreDists.find((f) => basename(f) === wheel)!;
        assert.equal(createHash('sha256').update(readFileSync(join(dest, wheel!))).digest('hex'), createHash('sha256').update(readFileSync(original)).digest('hex'));
      } finally {
        rmSync(dest, { recursive: true, force: true });
        rmSync(venvDir, { recursive: true, force: true });
      }
    });

    test('PEP 691 JSON, PEP 503 HTML and the PEP 658 metadata agree with the uploaded files', async () => {
      const json = await fetch(`${server.url}/simple/cairn-sample-app/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
      assert.equal(json.status, 200);
      assert.match(json.headers.get('content-type') ?? '', /^application\/vnd\.pypi\.simple\.v1\+json/);
      const body = (await json.json()) as Record<string, unknown>;
      assertPep691Project(body);
      assert.equal(body.name, 'cairn-sample-app');
      assert.deepEqual(body.versions, ['0.2.0']);
      const files = body.files as { filename: string; url: string; hashes: { sha256: string }; 'core-metadata': { sha256: string } }[];
      assert.deepEqual(files.map((f) => f.filename).sort(), appDists.map((f) => basename(f)).sort());
      const wheel = files.find((f) => f.filename.endsWith('.whl'))!;
      const metadata = await fetch(new URL(`${wheel.url}.metadata`, server.url));
      assert.equal(metadata.status, 200);
      const metadataBytes = Buffer.from(await metadata.arrayBuffer());
      assert.equal(createHash('sha256').update(metadataBytes).digest('hex'), wheel['core-metadata'].sha256);
      assert.match(metadataBytes.toString(), /Requires-Dist: cairn-sample-core>=1\.0/);

      const html = await fetch(`${server.url}/simple/cairn-sample-app/`, { headers: { Accept: 'text/html' } });
      const text = await html.text();
      assert.match(text, /data-core-metadata="sha256=[0-9a-f]{64}"/);
      assert.match(text, /data-requires-python="&gt;=3\.8"/);

      const redirect = await fetch(`${server.url}/simple/Cairn_Sample.App/`, { redirect: 'manual' });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get('location'), '/simple/cairn-sample-app/');
    });

    test('twine shows the reason when the token belongs to another project', async () => {
      const other = await server.token('projects', ['some-other-project']);
      const result = await twineUpload(server, other, coreDists);
      assert.notEqual(result.status, 0);
      assert.match(result.output, /403/);
      assert.match(result.output, /isn't allowed to upload to project/);
    });
  });
}
