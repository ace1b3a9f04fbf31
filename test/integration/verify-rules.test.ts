import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProxyServer } from '../../src/client/proxy/proxy-app.ts';
import { VerifyingProxy } from '../../src/client/proxy/index.ts';
import { loadExtraRoots, VerifyCache } from '../../src/client/verify/index.ts';
import { parsePolicy } from '../../src/policy/index.ts';
import { verifierFor } from '../../src/trust/verify-attestation.ts';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { devTrustBase, provideBuildProvenance, type DevTokenClaims } from '../support/provenance.ts';
import { basicAuth, startTestServer, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * `cairn verify` with the consumer rules of issue 15, driven as a user runs it: the dev trust
 * domain certifies both runner environments, the policy's `runner`, `source-ref` and
 * `predicate-type` decide, `--explain` says which entry matched or why each failed, and the
 * project's PEP 792 status is reported and can fail the policy.
 */
const BUILDER = 'trusted-org/builder/.github/workflows/build.yml@refs/tags/v1';
const work = mkdtempSync(join(tmpdir(), 'cairn-verify-rules-'));
let server: TestServer;
let base: string;
let auth: string;
let cache = 0;

async function publish(name: string, version: string, claims: DevTokenClaims): Promise<void> {
  const dist = makeDistribution(work, { name, version, kind: 'sdist' });
  const provided = await provideBuildProvenance(server, dist.path, { claims: { job_workflow_ref: BUILDER, ...claims } });
  assert.equal(provided.submitted.status, 200, JSON.stringify(provided.submitted.body));
  assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
}

function policyFile(conditions: string, extra = ''): string {
  const path = join(work, `policy-${++cache}.toml`);
  writeFileSync(
    path,
    `version = 1\n[defaults]\nrequire = "build"\n${extra}\n[[builders]]\nissuer = "${base}/oidc"\nidentity = "https://github.com/trusted-org/builder/.github/workflows/build.yml@refs/tags/v*"\n${conditions}\n`,
  );
  return path;
}

function verify(target: string, policy: string, ...flags: string[]) {
  return runCairn(['verify', target, '--index', server.url, '--dev-trust', base, '--policy', policy, '--cache-dir', join(work, `cache-${++cache}`), ...flags]);
}

before(async () => {
  server = await startTestServer('sqlite', { devTrust: true });
  base = devTrustBase(server);
  auth = basicAuth(await server.token('new_projects'));
  await publish('rules-demo', '1.0', { runner_environment: 'self-hosted', ref: 'refs/heads/main' });
  await publish('rules-demo', '2.0', { runner_environment: 'github-hosted', ref: 'refs/tags/v2.0' });
});
after(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('consumer rules on the signing certificate', () => {
  test('runner = "github-hosted" refuses a file built on a self-hosted runner; --explain says why', async () => {
    const policy = policyFile('runner = "github-hosted"');
    const refused = await verify('rules-demo==1.0', policy, '--explain', '--history', '0');
    assert.equal(refused.status, 1, refused.output);
    assert.match(refused.stdout, /\[policy\.untrusted_builder\]/);
    assert.match(refused.stdout, /builders\[0\] \(line 5\): no — runner = "github-hosted", but the certificate says self-hosted/);
    const accepted = await verify('rules-demo==2.0', policy, '--explain', '--history', '0');
    assert.equal(accepted.status, 0, accepted.output);
    assert.match(accepted.stdout, /builders\[0\] \(line 5\): matched — build attestation signed by/);
  });

  test('source-ref and predicate-type, with the rule checks in --json', async () => {
    const policy = policyFile('source-ref = "refs/tags/v*"\npredicate-type = "https://slsa.dev/provenance/v1"');
    const branch = await verify('rules-demo==1.0', policy, '--json', '--history', '0');
    assert.equal(branch.status, 1, branch.output);
    const document = JSON.parse(branch.stdout) as { files: { code: string; rule_checks: { rule: string; matched: boolean; reason: string; line: number }[] }[] };
    assert.equal(document.files[0]!.code, 'policy.untrusted_builder');
    assert.deepEqual(document.files[0]!.rule_checks.map((c) => [c.rule, c.matched, c.line]), [['builders[0]', false, 5]]);
    assert.match(document.files[0]!.rule_checks[0]!.reason, /source-ref = "refs\/tags\/v\*" does not match the certificate's ref refs\/heads\/main/);
    assert.equal((await verify('rules-demo==2.0', policy, '--history', '0')).status, 0);
    const wrongPredicate = await verify('rules-demo==2.0', policyFile('predicate-type = "https://slsa.dev/provenance/v0.2"'), '--history', '0');
    assert.equal(wrongPredicate.status, 1, wrongPredicate.output);
  });
});

describe('the dev trust domain certifies either runner environment', () => {
  test('cairn dev-trust token --runner-environment self-hosted', async () => {
    const result = await runCairn(['dev-trust', 'token', '--url', base, '--repository', 'o/r', '--workflow-ref', 'o/r/.github/workflows/x.yml@refs/heads/main', '--sha', 'a'.repeat(40), '--runner-environment', 'self-hosted']);
    assert.equal(result.status, 0, result.output);
    const claims = JSON.parse(Buffer.from(result.stdout.trim().split('.')[1]!, 'base64url').toString('utf8')) as { runner_environment: string };
    assert.equal(claims.runner_environment, 'self-hosted');
  });
});

describe('PEP 792 status in cairn verify', () => {
  test('deprecated is reported as a warning, and fails a policy that lists it', async () => {
    await server.services.index.setProjectStatus('rules-demo', 'deprecated', 'use rules-demo2', new Date());
    const lenient = await verify('rules-demo==2.0', policyFile(''), '--json', '--history', '0');
    assert.equal(lenient.status, 0, lenient.output);
    const file = (JSON.parse(lenient.stdout) as { files: { project_status: unknown; warnings: string[] }[] }).files[0]!;
    assert.deepEqual(file.project_status, { status: 'deprecated', reason: 'use rules-demo2' });
    assert.ok(file.warnings.includes('the index marks rules-demo deprecated (use rules-demo2) (PEP 792)'), JSON.stringify(file.warnings));
    const strict = await verify('rules-demo==2.0', policyFile('', 'fail-on-status = ["quarantined", "deprecated"]'), '--history', '0');
    assert.equal(strict.status, 1, strict.output);
    assert.match(strict.stdout, /\[policy\.project_status\] the index marks rules-demo deprecated \(use rules-demo2\)/);
  });

  test('quarantined: nothing to download, the requirement fails with the status code', async () => {
    await server.services.index.setProjectStatus('rules-demo', 'quarantined', 'malware', new Date());
    const result = await verify('rules-demo==2.0', policyFile(''), '--history', '0');
    assert.equal(result.status, 1, result.output);
    assert.match(result.stdout, /\[policy\.project_status\] rules-demo==2\.0: the index .* marks rules-demo quarantined \(malware\)/);
    await server.services.index.setProjectStatus('rules-demo', 'active', null, new Date());
  });
});

describe('cairn verify --vsa', () => {
  const SPEC_FIELDS = ['verifier', 'timeVerified', 'resourceUri', 'policy', 'inputAttestations', 'verificationResult', 'verifiedLevels', 'slsaVersion'];

  test('a passing file gets one signed SLSA VSA whose fields follow the spec', async () => {
    const dir = join(work, 'vsa-pass');
    const policy = policyFile('runner = "github-hosted"');
    const result = await verify('rules-demo==2.0', policy, '--vsa', dir, '--history', '0', '--json');
    assert.equal(result.status, 0, result.output);
    const document = JSON.parse(result.stdout) as { vsa: { filename: string; path: string; code: null }[]; files: { sha256: string }[] };
    assert.deepEqual(readdirSync(dir), ['rules_demo-2.0.tar.gz.vsa.sigstore.json']);
    assert.equal(document.vsa[0]!.path, join(dir, 'rules_demo-2.0.tar.gz.vsa.sigstore.json'));
    const bundle = JSON.parse(readFileSync(join(dir, 'rules_demo-2.0.tar.gz.vsa.sigstore.json'), 'utf8')) as { mediaType: string; dsseEnvelope: { payload: string; payloadType: string } };
    assert.match(bundle.mediaType, /^application\/vnd\.dev\.sigstore\.bundle/);
    assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');

    // signed keylessly through the dev trust domain, like the builder's statements, and verifiable as such
    const roots = await loadExtraRoots([`${base}/trusted_root.json`], { cache: new VerifyCache(join(work, 'vsa-roots')), offline: false });
    const sha256 = document.files[0]!.sha256;
    const verified = verifierFor({ publicGood: false, extra: roots }).verify(bundle, { filename: 'rules_demo-2.0.tar.gz', sha256 });
    assert.equal(verified.facts.predicateType, 'https://slsa.dev/verification_summary/v1');
    assert.equal(verified.facts.identity, 'https://github.com/cairn-dev/verifier/.github/workflows/verify.yml@refs/heads/main');

    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as Record<string, unknown>;
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
    assert.deepEqual(statement.subject, [{ name: 'rules_demo-2.0.tar.gz', digest: { sha256 } }]);
    assert.equal(statement.predicateType, 'https://slsa.dev/verification_summary/v1');
    const predicate = statement.predicate as {
      verifier: { id: string; version: { cairn: string } };
      timeVerified: string;
      resourceUri: string;
      policy: { uri: string; digest: Record<string, string> };
      inputAttestations: { uri: string; digest: { sha256: string } }[];
      verificationResult: string;
      verifiedLevels: string[];
      slsaVersion: string;
    };
    assert.deepEqual(Object.keys(predicate).sort(), [...SPEC_FIELDS].sort(), 'the spec\'s fields, dependencyLevels left out as unused');
    assert.equal(predicate.verifier.id, 'https://cairn.dev/verifiers/cairn-verify/v1');
    assert.match(predicate.verifier.version.cairn, /^\d+\.\d+\.\d+/);
    assert.ok(Math.abs(Date.parse(predicate.timeVerified) - Date.now()) < 60_000);
    assert.match(predicate.timeVerified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.match(predicate.resourceUri, /^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{64}\/rules_demo-2\.0\.tar\.gz$/);
    assert.equal(predicate.policy.uri, `file://${policy}`);
    assert.deepEqual(predicate.policy.digest, { sha256: createHash('sha256').update(readFileSync(policy)).digest('hex') });
    assert.equal(predicate.inputAttestations.length, 1);
    assert.match(predicate.inputAttestations[0]!.uri, /\/integrity\/rules-demo\/2\.0\/rules_demo-2\.0\.tar\.gz\/provenance#0$/);
    assert.match(predicate.inputAttestations[0]!.digest.sha256, /^[0-9a-f]{64}$/);
    assert.equal(predicate.verificationResult, 'PASSED');
    assert.deepEqual(predicate.verifiedLevels, ['SLSA_BUILD_LEVEL_2'], 'trusted build provenance from a hosted runner');
    assert.equal(predicate.slsaVersion, '1.1');

    // the verifying proxy serves it beside the file, and only for that file's digest
    const proxy = await startProxyServer(
      new VerifyingProxy({ upstream: server.url, policy: parsePolicy(readFileSync(policy, 'utf8'), policy), trustedRoots: roots, cacheDir: join(work, 'vsa-proxy-cache') }),
      { port: 0, vsaDir: dir },
    );
    try {
      // the proxy passes the upstream's PEP 792 status on to installers
      await server.services.index.setProjectStatus('rules-demo', 'deprecated', 'use rules-demo2', new Date());
      const page = (await (await fetch(`${proxy.url}/simple/rules-demo/`, { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as Record<string, unknown>;
      assert.deepEqual(page['project-status'], { status: 'deprecated', reason: 'use rules-demo2' });
      await server.services.index.setProjectStatus('rules-demo', 'active', null, new Date());
      const served = await fetch(`${proxy.url}/files/rules-demo/${sha256}/rules_demo-2.0.tar.gz.vsa.sigstore.json`);
      assert.equal(served.status, 200);
      assert.deepEqual(await served.json(), bundle);
      const otherDigest = await fetch(`${proxy.url}/files/rules-demo/${'0'.repeat(64)}/rules_demo-2.0.tar.gz.vsa.sigstore.json`);
      assert.equal(otherDigest.status, 404);
      assert.equal(((await otherDigest.json()) as { code: string }).code, 'file.not_found');
    } finally {
      await proxy.close();
    }
  });

  test('a file that failed verification gets no VSA: refused with vsa.not_verified, nothing written', async () => {
    const dir = join(work, 'vsa-fail');
    const result = await verify('rules-demo==1.0', policyFile('runner = "github-hosted"'), '--vsa', dir, '--history', '0');
    assert.equal(result.status, 1, result.output);
    assert.match(result.stderr, /vsa\.not_verified: no verification summary for rules_demo-1\.0\.tar\.gz: it did not pass verification \(policy\.untrusted_builder\)/);
    assert.equal(existsSync(dir), false, 'nothing written, not even the directory');
  });
});
