import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCairn } from '../support/commands.ts';
import { devToken, devTrustBase } from '../support/provenance.ts';
import { writeSampleProject } from '../support/python-projects.ts';
import { hasPythonBuildTools, skipUnless, SYSTEM_PYTHON } from '../support/requirements.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * Issue 15's flow with the real tools, as the CI templates run it: `cairn build` signs and
 * submits build provenance through the dev trust domain, then `cairn publish --stage
 * --require-provenance build --attest` (trusted publishing) stages both files and publishes them
 * together, and `cairn verify` accepts what was published under a policy trusting the builder.
 */
const skip = skipUnless(hasPythonBuildTools(), 'Debian python3-build, python3-setuptools, python3-venv and twine');
const REPOSITORY = 'octo-org/staged-e2e';
const CALLER_WORKFLOW = `${REPOSITORY}/.github/workflows/release.yml@refs/heads/main`;
const BUILDER_WORKFLOW = 'cairn-dev/builder/.github/workflows/cairn-build.yml@refs/tags/v1';

function git(cwd: string, ...args: string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' };
  return execFileSync('git', args, { cwd, encoding: 'utf8', env }).trim();
}

describe('cairn build → cairn publish --stage --require-provenance build → cairn verify', { skip }, () => {
  let work: string;
  let repo: string;
  let commit: string;
  let server: TestServer;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'cairn-staged-e2e-'));
    repo = writeSampleProject(work, { name: 'staged-e2e', version: '1.0.0', module: 'staged_e2e', backend: 'setuptools' });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'first');
    commit = git(repo, 'rev-parse', 'HEAD');
    server = await startTestServer('sqlite', { devTrust: true });
    await server.services.publishers.add({ project: 'staged-e2e', issuer: `${devTrustBase(server)}/oidc`, repository: REPOSITORY, workflow: 'release.yml' }, new Date());
  });
  after(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const tokenFile = async (name: string, claims: Parameters<typeof devToken>[1]) => {
    const path = join(work, name);
    writeFileSync(path, await devToken(server, claims));
    return path;
  };

  test('built, staged, published together with build provenance and publish attestations; verify passes', async () => {
    const dist = join(work, 'dist');
    const buildToken = await tokenFile('build.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, job_workflow_ref: BUILDER_WORKFLOW, sha: commit });
    const built = await runCairn([
      'build', '--repo', repo, '--commit', commit, '--source-uri', `https://github.com/${REPOSITORY}`, '--index', server.url, '--out', dist,
      '--oidc-token-file', buildToken, '--dev-trust', devTrustBase(server), '--no-isolation', '--python', SYSTEM_PYTHON,
    ]);
    assert.equal(built.status, 0, built.output);
    const files = readdirSync(dist).map((f) => join(dist, f));
    assert.equal(files.length, 2);

    const exchange = await tokenFile('publish.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: commit, aud: 'cairn' });
    const signing = await tokenFile('signing.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: commit, aud: 'sigstore' });
    const published = await runCairn([
      'publish', '--index', server.url, '--oidc-token-file', exchange, '--signing-token-file', signing, '--attest', '--dev-trust', devTrustBase(server),
      '--stage', '--require-provenance', 'build', '--wait', '30', ...files,
    ]);
    assert.equal(published.status, 0, published.output);
    assert.match(published.stdout, /session for staged[-_]e2e 1\.0\.0: http:\/\/\S+\/_\/sessions\/[A-Za-z0-9_-]{43}/);
    assert.match(published.stdout, /published .*staged_e2e-1\.0\.0-py3-none-any\.whl.* together/);

    const json = (await (await fetch(`${server.url}/pypi/staged-e2e/1.0.0/json`)).json()) as { urls: { filename: string; provenance: string | null }[] };
    assert.equal(json.urls.length, 2);
    assert.ok(json.urls.every((u) => typeof u.provenance === 'string'), JSON.stringify(json.urls));

    const policyPath = join(work, 'policy.toml');
    writeFileSync(policyPath, `version = 1\n[defaults]\nrequire = "build"\n[[builders]]\nissuer = "${devTrustBase(server)}/oidc"\nidentity = "https://github.com/${BUILDER_WORKFLOW}"\n`);
    const verified = await runCairn(['verify', 'staged-e2e==1.0.0', '--index', server.url, '--policy', policyPath, '--dev-trust', devTrustBase(server), '--cache-dir', join(work, 'cache')]);
    assert.equal(verified.status, 0, verified.output);
  });
});
