import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parsePylock } from '../../src/formats/pylock.ts';
import { parsePolicy } from '../../src/policy/index.ts';
import { loadExtraRoots, VerifyCache, verifyTargets } from '../../src/client/verify/index.ts';
import type { TrustedRootJson } from '../../src/trust/trusted-roots.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { devTrustBase, provideBuildProvenance, type DevTokenClaims } from '../support/provenance.ts';
import { basicAuth, startTestServer, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * End to end on loopback: builders sign SLSA provenance through the dev trust domain of a cairn
 * index, the index binds it on upload and serves it; `cairn verify` fetches and verifies it
 * offline against the domain's root, and the consumer's policy alone decides which builder counts.
 */
const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const TRUSTED_BUILDER = 'trusted-org/builder/.github/workflows/build.yml@refs/tags/v1';
const UNTRUSTED_BUILDER = 'mallory/builder/.github/workflows/build.yml@refs/tags/v1';

const work = mkdtempSync(join(tmpdir(), 'cairn-verify-e2e-'));
let server: TestServer;
let base: string;
let auth: string;
let roots: TrustedRootJson[];
let cacheCounter = 0;
const freshCache = () => join(work, `cache-${++cacheCounter}`);

async function publish(name: string, version: string, claims: DevTokenClaims, statementRepository?: string): Promise<string> {
  const dist = makeDistribution(work, { name, version, kind: 'sdist' });
  const provided = await provideBuildProvenance(server, dist.path, { claims, ...(statementRepository ? { statementRepository } : {}) });
  assert.equal(provided.submitted.status, 200, JSON.stringify(provided.submitted.body));
  const uploaded = await uploadFile(server.url, dist.path, auth);
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  return dist.filename;
}

function policy(extra = '', builders = [TRUSTED_BUILDER]): string {
  const entries = builders.map((b) => `[[builders]]\nissuer = "${base}/oidc"\nidentity = "https://github.com/${b.replace(/@.*$/, '')}@refs/tags/v*"\n`).join('\n');
  return `version = 1\n[defaults]\nrequire = "build"\n${extra}\n${entries}`;
}

before(async () => {
  server = await startTestServer('sqlite', { devTrust: true });
  base = devTrustBase(server);
  auth = basicAuth(await server.token('new_projects'));
  roots = await loadExtraRoots([`${base}/trusted_root.json`], { cache: new VerifyCache(join(work, 'roots')), offline: false });
  // Version 1.0 built by the trusted builder, 2.0 by an untrusted one: both verify at the index.
  await publish('e2e-demo', '1.0', { job_workflow_ref: TRUSTED_BUILDER });
  await publish('e2e-demo', '2.0', { job_workflow_ref: UNTRUSTED_BUILDER });
  // Built by the trusted builder, from two different repositories.
  await publish('e2e-sourced', '1.0', { job_workflow_ref: TRUSTED_BUILDER, repository: 'octo-org/octo-repo' });
  await publish('e2e-sourced', '2.0', { job_workflow_ref: TRUSTED_BUILDER, repository: 'octo-org/other-repo' });
});
after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function run(target: string, policyText: string, extra: Partial<Parameters<typeof verifyTargets>[1]> = {}) {
  return verifyTargets([target], { policy: parsePolicy(policyText, 'policy.toml'), trustedRoots: roots, index: server.url, cacheDir: freshCache(), ...extra });
}

describe('cairn verify against a cairn index with the dev trust domain', () => {
  test('the release built by the trusted builder passes', async () => {
    const { results, exitCode } = await run('e2e-demo==1.0', policy());
    assert.equal(exitCode, 0, results[0]?.reason);
    const [r] = results;
    assert.equal(r!.filename, 'e2e_demo-1.0.tar.gz');
    assert.equal(r!.verdict?.kind, 'build');
    assert.deepEqual(r!.verdict?.signer, { issuer: `${base}/oidc`, identity: `https://github.com/${TRUSTED_BUILDER}` });
    assert.equal(r!.verdict?.builder, `https://github.com/${TRUSTED_BUILDER}`);
    assert.equal(r!.verdict?.sourceRepository, 'https://github.com/octo-org/octo-repo');
    assert.equal(r!.verdict?.continuity.status, 'new');
  });

  test('the release built by the untrusted builder fails with the exact reason, though its provenance is valid', async () => {
    const { results, exitCode } = await run('e2e-demo==2.0', policy());
    assert.equal(exitCode, 1);
    const [r] = results;
    assert.equal(r!.status, 'fail');
    assert.equal(r!.code, 'policy.untrusted_builder');
    assert.equal(r!.reason, `e2e_demo-2.0.tar.gz: build attestation signed by https://github.com/${UNTRUSTED_BUILDER} (issuer ${base}/oidc) matches no [[builders]] entry of the policy`);
    assert.equal(r!.attestations[0]!.verified, true);
  });

  test('the change of builder between releases is reported, and fails under identity-continuity = "fail"', async () => {
    const both = [TRUSTED_BUILDER, UNTRUSTED_BUILDER];
    const warned = await run('e2e-demo==2.0', policy('', both));
    const [r] = warned.results;
    assert.equal(r!.status, 'pass', r!.reason);
    assert.equal(r!.verdict?.continuity.status, 'changed');
    assert.ok(r!.warnings.some((w) => w.includes('identity continuity changed') && w.includes('mallory/builder') && w.includes('trusted-org/builder')), JSON.stringify(r!.warnings));

    const strict = await run('e2e-demo==2.0', policy('identity-continuity = "fail"', both));
    assert.equal(strict.results[0]!.code, 'policy.identity_changed');
    assert.match(strict.results[0]!.reason, /e2e_demo-2\.0\.tar\.gz is signed by build by https:\/\/github\.com\/mallory\/builder\/\.github\/workflows\/build\.yml, earlier releases by build by https:\/\/github\.com\/trusted-org\/builder\/\.github\/workflows\/build\.yml/);
  });

  test('a project rule demanding source-repository rejects provenance naming another repository', async () => {
    const rule = '[projects.e2e-sourced]\nsource-repository = "https://github.com/octo-org/octo-repo"\n';
    const good = await run('e2e-sourced==1.0', policy(rule));
    assert.equal(good.results[0]!.status, 'pass', good.results[0]!.reason);
    const bad = await run('e2e-sourced==2.0', policy(rule));
    assert.equal(bad.results[0]!.code, 'policy.source_mismatch');
    assert.equal(bad.results[0]!.reason, 'e2e_sourced-2.0.tar.gz: its build attestation names source repository https://github.com/octo-org/other-repo, the policy requires https://github.com/octo-org/octo-repo');
  });

  test('a pylock.toml records the builder as attestation identity and then enforces it', async () => {
    const listing = (await (await fetch(`${server.url}/simple/e2e-demo/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: { filename: string; url: string; hashes: { sha256: string } }[] };
    const file = listing.files.find((f) => f.filename === 'e2e_demo-1.0.tar.gz')!;
    const lockPath = join(work, 'pylock.toml');
    writeFileSync(lockPath, `lock-version = "1.0"\ncreated-by = "test"\n\n[[packages]]\nname = "e2e-demo"\nversion = "1.0"\nindex = "${server.url}/simple"\nsdist = { url = "${new URL(file.url, `${server.url}/simple/e2e-demo/`).toString()}", hashes = { sha256 = "${file.hashes.sha256}" } }\n`);
    const first = await verifyTargets([lockPath], { policy: parsePolicy(policy()), trustedRoots: roots, cacheDir: freshCache(), lockIdentities: true });
    assert.equal(first.exitCode, 0, first.results[0]?.reason);
    assert.deepEqual(parsePylock(readFileSync(lockPath, 'utf8')).packages[0]!.attestationIdentities, [
      { kind: 'cairn:signer', issuer: `${base}/oidc`, identity: 'https://github.com/trusted-org/builder/.github/workflows/build.yml' },
    ]);
    writeFileSync(lockPath, readFileSync(lockPath, 'utf8').replace('trusted-org/builder', 'other-org/builder'));
    const enforced = await verifyTargets([lockPath], { policy: parsePolicy(policy()), trustedRoots: roots, cacheDir: freshCache() });
    assert.equal(enforced.results[0]!.code, 'policy.lock_identity_mismatch');
  });

  test('the cairn verify command: exit codes, table and --json with --dev-trust', async () => {
    const policyPath = join(work, 'cli-policy.toml');
    writeFileSync(policyPath, policy());
    // Asynchronous: the index answering the command runs in this process.
    const cli = (target: string, ...flags: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/cairn.mjs'), 'verify', target, '--index', server.url, '--policy', policyPath, '--dev-trust', base, '--cache-dir', join(work, 'cli-cache'), ...flags]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const pass = await cli('e2e-demo==1.0');
    assert.equal(pass.status, 0, pass.stderr + pass.stdout);
    assert.match(pass.stdout, /e2e_demo-1\.0\.tar\.gz +build +https:\/\/github\.com\/trusted-org\/builder\/\.github\/workflows\/build\.yml@refs\/tags\/v1 .*PASS/);
    // The dev trust domain certifies any identity: a PASS it vouches for says so.
    assert.match(pass.stdout, new RegExp(`^  ! e2e_demo-1\\.0\\.tar\\.gz: dev trust domain — not for production: signed through the dev trust domain at ${base}/, which certifies any identity it is asked for$`, 'm'));
    const fail = await cli('e2e-demo==2.0', '--json');
    assert.equal(fail.status, 1, fail.stderr);
    const doc = JSON.parse(fail.stdout) as { files: { status: string; code: string; reason: string; signer: { identity: string } }[] };
    assert.equal(doc.files[0]!.code, 'policy.untrusted_builder');
    assert.equal(doc.files[0]!.signer.identity, `https://github.com/${UNTRUSTED_BUILDER}`);
    assert.match((doc.files[0] as unknown as { warnings: string[] }).warnings[0] ?? '', /^dev trust domain — not for production: /);
  });
});
