import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCairn, runCommand } from '../support/commands.ts';
import { devToken, devTrustBase, provideBuildProvenance } from '../support/provenance.ts';
import { buildDistributions, createVenv, PIP_ENV, writeSampleProject } from '../support/python-projects.ts';
import { hasHatchling, hasPythonBuildTools, skipUnless, TWINE } from '../support/requirements.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';

/**
 * Staged publishing (issue 15) driven by the real tools: Debian's twine uploads into a session,
 * pip installs from the session's stage index before anything is public, and `cairn publish
 * --stage` runs the CI flow — trusted publishing, publish attestations signed through the dev
 * trust domain, build provenance arriving while it waits — on SQLite and PostgreSQL.
 */
const skip = skipUnless(hasPythonBuildTools() && hasHatchling(), 'Debian python3-build, python3-setuptools, python3-hatchling, python3-venv and twine');
const REPOSITORY = 'octo-org/stage-lib';
const CALLER_WORKFLOW = `${REPOSITORY}/.github/workflows/release.yml@refs/heads/main`;

let work: string;
let coreDists: string[] = [];
let appDists: string[] = [];
let libDists: string[] = [];
let unprovenDists: string[] = [];

before(() => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'cairn-stage-real-'));
  const core = writeSampleProject(work, { name: 'stage-core', version: '1.0.0', module: 'stage_core', backend: 'setuptools' });
  const app = writeSampleProject(work, { name: 'stage-app', version: '0.1.0', module: 'stage_app', backend: 'hatchling', dependsOn: 'stage-core>=1.0' });
  coreDists = buildDistributions(core, join(work, 'dist-core'));
  appDists = buildDistributions(app, join(work, 'dist-app'));
  libDists = buildDistributions(writeSampleProject(work, { name: 'stage-lib', version: '2.0.0', module: 'stage_lib', backend: 'setuptools' }), join(work, 'dist-lib'));
  unprovenDists = buildDistributions(writeSampleProject(work, { name: 'stage-unproven', version: '1.0.0', module: 'stage_unproven', backend: 'setuptools' }), join(work, 'dist-unproven'));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const run = (command: string, args: string[]) => runCommand(command, args, { env: PIP_ENV });

for (const { engine, skip: engineSkip } of await testEngines()) {
  describe(`staged publishing with real clients (${engine})`, { skip: skip || engineSkip }, () => {
    let server: TestServer;
    let token: string;
    let venvDir: string;
    let venv: { python: string; pip: string };
    before(async () => {
      server = await startTestServer(engine, { devTrust: true });
      token = await server.token('new_projects');
      venvDir = mkdtempSync(join(tmpdir(), 'cairn-stage-venv-'));
      venv = createVenv(venvDir);
      await server.services.publishers.add({ project: 'stage-lib', issuer: `${devTrustBase(server)}/oidc`, repository: REPOSITORY, workflow: 'release.yml' }, new Date());
    });
    after(async () => {
      await server?.stop();
      if (venvDir) rmSync(venvDir, { recursive: true, force: true });
    });

    test('twine uploads into a session; pip installs from its stage index, and not from the public index until the publish', async () => {
      const core = await run(TWINE, ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${server.url}/legacy/`, '-u', '__token__', '-p', token, ...coreDists]);
      assert.equal(core.status, 0, core.output);
      const created = await fetch(`${server.url}/_/sessions/`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.pypi.upload.v2+json', authorization: basicAuth(token) },
        body: JSON.stringify({ meta: { 'api-version': '2.0' }, name: 'stage-app', version: '0.1.0' }),
      });
      assert.equal(created.status, 201);
      const session = (await created.json()) as { links: { upload: string; stage: string; publish: string } };
      const staged = await run(TWINE, ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', session.links.upload, '-u', '__token__', '-p', token, ...appDists]);
      assert.equal(staged.status, 0, staged.output);

      const publicOnly = await run(venv.pip, ['download', '--no-deps', '-d', join(venvDir, 'dl'), '--index-url', `${server.url}/simple/`, 'stage-app']);
      assert.notEqual(publicOnly.status, 0, 'not public yet');
      assert.match(publicOnly.output, /No matching distribution found for stage-app/);

      const install = await run(venv.pip, ['install', '--index-url', session.links.stage, '--extra-index-url', `${server.url}/simple/`, 'stage-app']);
      assert.equal(install.status, 0, install.output);
      assert.match(install.output, /Successfully installed .*stage[-_]app-0\.1\.0/i);
      const imported = await run(venv.python, ['-c', 'import stage_app, stage_core; print(stage_app.hello(), stage_core.VERSION)']);
      assert.equal(imported.status, 0, imported.output);
      assert.match(imported.stdout, /hello from stage-app 1\.0\.0/);

      const published = await fetch(session.links.publish, { method: 'POST', headers: { authorization: basicAuth(token) } });
      assert.equal(published.status, 200);
      const listed = (await (await fetch(`${server.url}/simple/stage-app/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: { filename: string }[] };
      assert.deepEqual(listed.files.map((f) => f.filename).sort(), appDists.map((p) => basename(p)).sort());
    });

    test('cairn publish --stage --require-provenance build refuses files without build provenance: exit 1, session canceled, nothing public', async () => {
      const result = await runCairn(['publish', '--index', server.url, '--token', token, '--stage', '--require-provenance', 'build', ...unprovenDists]);
      assert.equal(result.status, 1, result.output);
      assert.match(result.stderr, /lacks verified build provenance/);
      assert.match(result.stderr, /error \[session\.incomplete\]/);
      assert.match(result.stderr, /canceled .*nothing of it was made public/);
      assert.equal((await fetch(`${server.url}/simple/stage-unproven/`)).status, 404);
      const rows = await server.services.db.selectFrom('session_files').select('id').execute();
      assert.equal(rows.length, 0);
    });

    test('cairn publish --stage with trusted publishing, --attest and --wait: build provenance arriving during the wait binds, all files public together', async () => {
      const tokenFile = async (name: string, aud: string) => {
        const path = join(work, `${engine}-${name}`);
        writeFileSync(path, await devToken(server, { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, aud }));
        return path;
      };
      const exchange = await tokenFile('exchange.jwt', 'cairn');
      const signing = await tokenFile('signing.jwt', 'sigstore');
      const publishing = runCairn([
        'publish',
        '--index',
        server.url,
        '--oidc-token-file',
        exchange,
        '--signing-token-file',
        signing,
        '--attest',
        '--dev-trust',
        devTrustBase(server),
        '--stage',
        '--require-provenance',
        'build',
        '--wait',
        '60',
        ...libDists,
      ]);
      // The builder submits while the publish job waits: poll until both files are staged, then submit.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const staged = await server.services.db.selectFrom('session_files').select('filename').where('filename', 'like', 'stage_lib-2.0.0%').execute();
        if (staged.length === libDists.length || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.doesNotMatch(await (await fetch(`${server.url}/simple/stage-lib/`)).text(), /stage_lib-2\.0\.0/, 'staged, not public');
      for (const path of libDists) {
        const provided = await provideBuildProvenance(server, path, { claims: { repository: REPOSITORY } });
        assert.equal(provided.submitted.status, 200, JSON.stringify(provided.submitted.body));
        assert.equal(provided.submitted.body.staged, true);
      }
      const result = await publishing;
      assert.equal(result.status, 0, result.output);
      assert.match(result.stdout, /published .* together/);
      const listed = (await (await fetch(`${server.url}/simple/stage-lib/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as {
        files: { filename: string; provenance: string | null }[];
      };
      assert.deepEqual(listed.files.map((f) => f.filename).sort(), libDists.map((p) => basename(p)).sort());
      for (const file of listed.files) {
        const provenance = (await (await fetch(new URL(file.provenance!, server.url))).json()) as { attestation_bundles: { attestations: { envelope: { statement: string } }[] }[] };
        const predicates = provenance.attestation_bundles
          .flatMap((b) => b.attestations)
          .map((a) => (JSON.parse(Buffer.from(a.envelope.statement, 'base64').toString()) as { predicateType: string }).predicateType)
          .sort();
        assert.deepEqual(predicates, ['https://docs.pypi.org/attestations/publish/v1', 'https://slsa.dev/provenance/v1'], file.filename);
      }
    });
  });
}
