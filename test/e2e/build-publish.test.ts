import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { attestationToBundle, bundleToAttestation, type Pep740Attestation } from '../../src/formats/pep740.ts';
import { runCairn, runCommand } from '../support/commands.ts';
import { devToken, devTrustBase } from '../support/provenance.ts';
import { createVenv, PIP_ENV, writeSampleProject } from '../support/python-projects.ts';
import { debianBuildWheels, hasPythonBuildTools, skipUnless, SYSTEM_PYTHON, TWINE } from '../support/requirements.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/**
 * The whole flow of DESIGN §1 with the real tools: a git repository with two commits, `cairn build`
 * (clone, exact checkout, `python -m build`, SLSA statement, keyless signing through the dev trust
 * domain, submission), `cairn publish` and Debian's twine with trusted publishing, the integrity
 * API, an independent check with plain @sigstore/verify, and `pip install`.
 */
const skip = skipUnless(hasPythonBuildTools(), 'Debian python3-build, python3-setuptools, python3-venv and twine');

const isolationSkip = skip || skipUnless(debianBuildWheels() !== null, "Debian's python3-setuptools-whl and python3-wheel-whl (wheels an isolated build installs)");

const REPOSITORY = 'octo-org/sample-lib';
const SOURCE_URI = `https://github.com/${REPOSITORY}`;
const CALLER_WORKFLOW = `${REPOSITORY}/.github/workflows/release.yml@refs/heads/main`;
const BUILDER_WORKFLOW = 'cairn-dev/builder/.github/workflows/cairn-build.yml@refs/tags/v1';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.invalid' } }).trim();
}

describe('build → submit → publish → verify → install, with real tools', { skip }, () => {
  let work: string;
  let repo: string;
  let firstCommit: string;
  let commit: string;
  let server: TestServer;
  let dist: string;
  let wheelName = '';
  let sdistName = '';

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'cairn-e2e-'));
    repo = writeSampleProject(work, { name: 'sample-lib', version: '1.0.0', module: 'sample_lib', backend: 'setuptools' });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'first');
    firstCommit = git(repo, 'rev-parse', 'HEAD');
    writeFileSync(join(repo, 'src', 'sample_lib', '__init__.py'), 'VERSION = "1.0.0"\n\ndef hello():\n    return "hello from the second commit"\n');
    git(repo, 'commit', '--quiet', '-am', 'second');
    commit = git(repo, 'rev-parse', 'HEAD');
    server = await startTestServer('sqlite', { devTrust: true });
    dist = join(work, 'dist');
    // The maintainer registers their publishing workflow before the project exists (a pending publisher).
    await server.services.publishers.add({ project: 'sample-lib', issuer: `${devTrustBase(server)}/oidc`, repository: REPOSITORY, workflow: 'release.yml' }, new Date());
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

  test('cairn build checks out the exact commit, builds, signs and submits; the entries are pending', async () => {
    const token = await tokenFile('build.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, job_workflow_ref: BUILDER_WORKFLOW, sha: commit });
    // The first python3 on PATH lacks `build` (as a pyenv one does): cairn build says so and uses
    // one that has it, without being told (issue 14, item 1).
    const bin = join(work, 'pyenv-like-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'python3'), `#!/bin/sh\n# no site-packages: no \`build\`\nexec ${SYSTEM_PYTHON} -I -S "$@"\n`);
    chmodSync(join(bin, 'python3'), 0o755);
    const built = await runCairn(
      ['build', '--repo', repo, '--commit', commit, '--source-uri', SOURCE_URI, '--index', server.url, '--out', dist, '--oidc-token-file', token, '--dev-trust', devTrustBase(server), '--no-isolation'],
      { env: { PATH: `${bin}:${process.env.PATH ?? ''}`, CAIRN_PYTHON: undefined } },
    );
    assert.equal(built.status, 0, built.output);
    assert.match(built.stdout, /skipped python3 \(PATH\): runs \S+ \(Python 3\.\d+\.\d+\), which has no `build` module/);
    assert.match(built.stdout, new RegExp(`python: ${SYSTEM_PYTHON} \\(Python 3\\.\\d+\\.\\d+, build [\\d.]+\\); choose another with --python PATH or CAIRN_PYTHON`));
    assert.match(built.stderr + built.stdout, /submitting provenance for sample_lib-1\.0\.0-py3-none-any\.whl/);
    // --out holds the distributions and nothing else; what was signed about them is beside it.
    const files = readdirSync(dist).sort();
    assert.ok(files.every((f) => f.endsWith('.whl') || f.endsWith('.tar.gz')), files.join(' '));
    assert.equal(files.length, 2, files.join(' '));
    wheelName = files.find((f) => f.endsWith('.whl'))!;
    sdistName = files.find((f) => f.endsWith('.tar.gz'))!;
    assert.equal(wheelName, 'sample_lib-1.0.0-py3-none-any.whl');
    assert.deepEqual(readdirSync(`${dist}-provenance`).sort(), files.flatMap((f) => [`${f}.provenance.attestation`, `${f}.sigstore.json`]).sort());
    assert.match(built.stdout, new RegExp(`twine upload ${dist}/\\* works\\); bundles and attestations in ${dist}-provenance`));

    // The statement names the source and the tools that built it, with versions (no isolation: the host's).
    const bundle = JSON.parse(readFileSync(join(`${dist}-provenance`, `${wheelName}.sigstore.json`), 'utf8')) as { dsseEnvelope: { payload: string } };
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as {
      predicate: { buildDefinition: { externalParameters: { source: { repository: string; commit: string } }; resolvedDependencies: { name?: string; uri: string; annotations?: { version?: string } }[] } };
    };
    assert.deepEqual(statement.predicate.buildDefinition.externalParameters.source, { repository: SOURCE_URI, commit, ref: 'refs/heads/main' });
    const deps = statement.predicate.buildDefinition.resolvedDependencies;
    assert.equal(deps[0]!.uri, `git+${SOURCE_URI}@refs/heads/main`);
    assert.match(deps.find((d) => d.name === 'python')!.uri, /^pkg:generic\/python@3\.\d+\.\d+$/);
    assert.match(deps.find((d) => d.name === 'setuptools')!.uri, /^pkg:pypi\/setuptools@\d+(\.\d+)*$/);
    assert.match(deps.find((d) => d.name === 'build')!.annotations?.version ?? '', /^\d+\.\d+/);

    const listed = await runCairn(['admin', 'provenance', 'pending', '--json', '--data-dir', server.dataDir]);
    assert.equal(listed.status, 0, listed.output);
    const pending = JSON.parse(listed.stdout) as { filename: string; signer_identity: string }[];
    assert.deepEqual(pending.map((p) => p.filename).sort(), [...files].sort());
    assert.ok(pending.every((p) => p.signer_identity === `https://github.com/${BUILDER_WORKFLOW}`));
  });

  test('cairn publish (trusted publishing) uploads the wheel, `twine upload dist/*` uploads the rest with a minted token; both bind', async () => {
    const publishToken = await tokenFile('publish.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: commit, aud: 'cairn' });
    const published = await runCairn(['publish', '--index', server.url, '--oidc-token-file', publishToken, join(dist, wheelName)]);
    assert.equal(published.status, 0, published.output);

    const mint = await fetch(`${server.url}/_/oidc/mint-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: await devToken(server, { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: commit, aud: 'cairn' }) }),
    });
    assert.equal(mint.status, 200);
    const { token } = (await mint.json()) as { token: string };
    // Debian 12's twine (4.0.2) refuses any file in dist/* that is not a distribution or a .asc
    // signature, which is why the bundles are not there: the habitual command works as typed.
    const twineArgs = `upload --non-interactive --disable-progress-bar --repository-url ${server.url}/legacy/ -u __token__ -p ${token}`;
    const bundles = await runCommand('sh', ['-c', `${TWINE} ${twineArgs} ${dist}-provenance/*`]);
    assert.notEqual(bundles.status, 0, bundles.output);
    assert.match(bundles.output, /Unknown distribution format/);
    const twine = await runCommand('sh', ['-c', `${TWINE} ${twineArgs} ${dist}/*`]);
    assert.equal(twine.status, 0, twine.output);
    assert.match(twine.output, new RegExp(`Uploading ${sdistName.replaceAll('.', '\\.')}`));
    assert.equal((await server.services.pendingProvenance.listPending()).length, 0, 'every pending entry was bound');
  });

  test('the integrity API names the builder, the repository and the commit for each file', async () => {
    for (const filename of [wheelName, sdistName]) {
      const response = await fetch(`${server.url}/integrity/sample-lib/1.0.0/${filename}/provenance`);
      assert.equal(response.status, 200, filename);
      const provenance = (await response.json()) as { attestation_bundles: { publisher: Record<string, unknown>; cairn_verified: Record<string, unknown>[] }[] };
      const facts = provenance.attestation_bundles.flatMap((b) => b.cairn_verified);
      assert.equal(facts.length, 1);
      const text = JSON.stringify(facts[0]);
      assert.ok(text.includes(`https://github.com/${BUILDER_WORKFLOW}`), text);
      assert.ok(text.includes(SOURCE_URI), text);
      assert.ok(text.includes(commit), text);
      assert.ok(!text.includes(firstCommit), 'the provenance names the commit that was built');
    }
  });

  test('an independent verifier (plain @sigstore/verify) accepts the downloaded file and its attestation', async () => {
    const simple = (await (await fetch(`${server.url}/simple/sample-lib/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: { filename: string; url: string; provenance: string }[] };
    const wheel = simple.files.find((f) => f.filename.endsWith('.whl'))!;
    const bytes = Buffer.from(await (await fetch(new URL(wheel.url, server.url))).arrayBuffer());
    const provenance = (await (await fetch(new URL(wheel.provenance, server.url))).json()) as { attestation_bundles: { attestations: unknown[] }[] };
    const bundle = bundleFromJSON(attestationToBundle(provenance.attestation_bundles[0]!.attestations[0] as Pep740Attestation));
    const root = (await (await fetch(`${devTrustBase(server)}/trusted_root.json`)).json()) as unknown;
    const verifier = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)));
    const signer = verifier.verify(toSignedEntity(bundle), { subjectAlternativeName: `https://github.com/${BUILDER_WORKFLOW}`, extensions: { issuer: `${devTrustBase(server)}/oidc` } });
    assert.ok(signer.identity);
    const envelope = bundle.content.$case === 'dsseEnvelope' ? bundle.content.dsseEnvelope : null;
    const statement = JSON.parse(envelope!.payload.toString()) as { subject: { name: string; digest: { sha256: string } }[] };
    assert.equal(statement.subject[0]!.digest.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(statement.subject[0]!.name, wheel.filename);
  });

  test('pip installs the published package from the index', async () => {
    const venvDir = mkdtempSync(join(tmpdir(), 'cairn-e2e-venv-'));
    try {
      const venv = createVenv(venvDir);
      const install = await runCommand(venv.pip, ['install', '--index-url', `${server.url}/simple/`, 'sample-lib==1.0.0'], { env: PIP_ENV });
      assert.equal(install.status, 0, install.output);
      const run = await runCommand(venv.python, ['-c', 'import sample_lib; print(sample_lib.hello())']);
      assert.match(run.stdout, /hello from the second commit/);
    } finally {
      rmSync(venvDir, { recursive: true, force: true });
    }
  });

  test('on a developer machine (no CI credential) cairn build --dev-trust gets its token from the dev issuer', async () => {
    const out = join(work, 'out-dev');
    const built = await runCairn(
      ['build', '--repo', repo, '--commit', commit, '--source-uri', SOURCE_URI, '--out', out, '--dev-trust', devTrustBase(server), '--no-isolation', '--python', SYSTEM_PYTHON],
      { env: { ACTIONS_ID_TOKEN_REQUEST_URL: undefined, ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined, SIGSTORE_ID_TOKEN: undefined, CAIRN_ID_TOKEN: undefined } },
    );
    assert.equal(built.status, 0, built.output);
    assert.match(built.stdout, /OIDC credential from the dev trust domain at .+ \(development only\)/);
    const wheel = readdirSync(out).find((f) => f.endsWith('.whl'))!;
    const bundle = JSON.parse(readFileSync(join(`${out}-provenance`, `${wheel}.sigstore.json`), 'utf8')) as unknown;
    const digest = createHash('sha256').update(readFileSync(join(out, wheel))).digest('hex');
    const verified = server.services.verifier.verifyForIndex(bundleToAttestation(bundle), { filename: wheel, sha256: digest });
    assert.equal(verified.facts.identity, `https://github.com/${REPOSITORY}/.github/workflows/cairn-build.yml@refs/heads/main`);
    assert.equal(verified.facts.sourceRepositoryDigest, commit);
  });

  test('production mode: an isolated build installs its backend from an index (cairn itself, serving Debian\'s setuptools and wheel wheels)', { skip: isolationSkip }, async () => {
    const token = await server.token('new_projects');
    const upload = await runCommand(TWINE, ['upload', '--non-interactive', '--disable-progress-bar', '--repository-url', `${server.url}/legacy/`, '-u', '__token__', '-p', token, ...debianBuildWheels()!]);
    assert.equal(upload.status, 0, upload.output);
    const out = join(work, 'out-isolated');
    const buildToken = await tokenFile('isolated.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, job_workflow_ref: BUILDER_WORKFLOW, sha: commit });
    const built = await runCairn(
      ['build', '--repo', repo, '--commit', commit, '--source-uri', SOURCE_URI, '--out', out, '--oidc-token-file', buildToken, '--dev-trust', devTrustBase(server), '--python', SYSTEM_PYTHON],
      { env: { ...PIP_ENV, PIP_INDEX_URL: `${server.url}/simple/` }, timeoutMs: 300_000 },
    );
    assert.equal(built.status, 0, built.output);
    assert.match(built.stdout, /building sdist and wheel \(isolated\)/);
    const wheel = readdirSync(out).find((f) => f.endsWith('.whl'))!;
    const bundle = JSON.parse(readFileSync(join(`${out}-provenance`, `${wheel}.sigstore.json`), 'utf8')) as { dsseEnvelope: { payload: string } };
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as { predicate: { buildDefinition: { resolvedDependencies: { name?: string; uri: string; annotations?: Record<string, string> }[] } } };
    const setuptools = statement.predicate.buildDefinition.resolvedDependencies.find((d) => d.name === 'setuptools')!;
    // The isolated environment resolved it at build time: the declared requirement is recorded, not the host's version.
    assert.deepEqual(setuptools, { name: 'setuptools', uri: 'pkg:pypi/setuptools', annotations: { requirement: 'setuptools>=61' } });
  });

  test('cairn build refuses a commit that does not exist, a token vouching for another commit, and a build that changes tracked files', async () => {
    // cairn's own dist/ (the compiled JavaScript) is never an output folder.
    const ownDist = new URL('../../dist', import.meta.url).pathname;
    const intoCairn = await runCairn(['build', '--repo', repo, '--commit', commit, '--out', ownDist, '--oidc-token-file', join(work, 'build.jwt')]);
    assert.equal(intoCairn.status, 2, intoCairn.output);
    assert.match(intoCairn.stderr, /usage\.invalid_argument.*is cairn's own compiled JavaScript/);

    const missing = 'f'.repeat(40);
    const tokenMissing = await tokenFile('missing.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: missing });
    const common = ['--source-uri', SOURCE_URI, '--index', server.url, '--dev-trust', devTrustBase(server), '--no-isolation', '--python', SYSTEM_PYTHON];
    const noCommit = await runCairn(['build', '--repo', repo, '--commit', missing, '--out', join(work, 'out-missing'), '--oidc-token-file', tokenMissing, ...common]);
    assert.notEqual(noCommit.status, 0);
    assert.match(noCommit.stderr, /build\.bad_commit/);
    assert.match(noCommit.stderr, /does not exist/);

    const tokenOther = await tokenFile('other.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: firstCommit });
    const otherCommit = await runCairn(['build', '--repo', repo, '--commit', commit, '--out', join(work, 'out-other'), '--oidc-token-file', tokenOther, ...common]);
    assert.equal(otherCommit.status, 1, otherCommit.output);
    assert.match(otherCommit.stderr, /build\.commit_mismatch/);

    // A build backend hook that rewrites a tracked file: the distributions would not be the commit.
    writeFileSync(join(repo, 'setup.py'), "import pathlib\npathlib.Path('README.md').write_text('changed by the build')\nfrom setuptools import setup\nsetup()\n");
    git(repo, 'add', 'setup.py');
    git(repo, 'commit', '--quiet', '-m', 'a build that dirties the tree');
    const dirtyCommit = git(repo, 'rev-parse', 'HEAD');
    const tokenDirty = await tokenFile('dirty.jwt', { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: dirtyCommit });
    const before = (await server.services.pendingProvenance.listPending()).length;
    const dirty = await runCairn(['build', '--repo', repo, '--commit', dirtyCommit, '--out', join(work, 'out-dirty'), '--oidc-token-file', tokenDirty, ...common]);
    assert.equal(dirty.status, 1, dirty.output);
    assert.match(dirty.stderr, /build\.dirty_tree/);
    assert.match(dirty.stderr, /README\.md/);
    assert.equal((await server.services.pendingProvenance.listPending()).length, before, 'nothing was submitted');
    assert.equal(JSON.stringify(readdirSync(work)).includes('out-dirty') ? readdirSync(join(work, 'out-dirty')).length : 0, 0);
  });
});
