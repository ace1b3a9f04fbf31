import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CairnError } from '../../src/errors.ts';
import type { AttestationFacts } from '../../src/formats/provenance-object.ts';
import { evaluatePolicy, explainPolicy, parsePolicy, type PolicyInput } from '../../src/policy/index.ts';

/**
 * Issue 15: per-entry conditions on the signing certificate (runner environment, source ref,
 * predicate type, signer digest), the PEP 792 status a policy may fail on, and the rule checks
 * `cairn verify --explain` prints.
 */
const GHA = 'https://token.actions.githubusercontent.com';
const BUILDER = 'https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v1.2.0';
const DIGEST = 'b'.repeat(40);

function facts(overrides: Partial<AttestationFacts> = {}): AttestationFacts {
  return {
    kind: 'build',
    predicateType: 'https://slsa.dev/provenance/v1',
    issuer: GHA,
    identity: BUILDER,
    buildSignerUri: BUILDER,
    buildSignerDigest: DIGEST,
    sourceRepositoryUri: 'https://github.com/pypa/sampleproject',
    sourceRepositoryDigest: 'a'.repeat(40),
    sourceRepositoryRef: 'refs/tags/v4.0.0',
    buildConfigUri: 'https://github.com/pypa/sampleproject/.github/workflows/release.yml@refs/tags/v4.0.0',
    runInvocationUri: null,
    runnerEnvironment: 'github-hosted',
    certificateNotBefore: '2025-01-01T00:00:00.000Z',
    certificateNotAfter: '2025-01-01T00:10:00.000Z',
    logIndex: '1',
    integratedTime: '2025-01-01T00:01:00.000Z',
    buildType: 'https://cairn.dev/python-dist/v1',
    builderId: BUILDER,
    statementRepository: 'https://github.com/pypa/sampleproject',
    statementCommit: 'a'.repeat(40),
    invocationId: null,
    ...overrides,
  };
}

const policyWith = (builder: string, extra = '') =>
  parsePolicy(
    `version = 1\n[defaults]\nrequire = "build"\n${extra}\n[[builders]]\nissuer = "${GHA}"\nidentity = "https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v*"\n${builder}\n`,
    'p.toml',
  );

const input = (overrides: Partial<PolicyInput> = {}): PolicyInput => ({ project: 'demo', version: '1.0', filename: 'demo-1.0.tar.gz', attestations: [facts()], ...overrides });

describe('builder conditions', () => {
  const cases: [string, string, Partial<AttestationFacts>, boolean, RegExp][] = [
    ['github-hosted runner passes', 'runner = "github-hosted"', {}, true, /meets every condition/],
    ['self-hosted runner refused', 'runner = "github-hosted"', { runnerEnvironment: 'self-hosted' }, false, /runner = "github-hosted", but the certificate says self-hosted/],
    ['no runner claim refused', 'runner = "github-hosted"', { runnerEnvironment: null }, false, /names no runner environment/],
    ['self-hosted may be required too', 'runner = "self-hosted"', { runnerEnvironment: 'self-hosted' }, true, /meets every condition/],
    ['source ref glob matches a tag', 'source-ref = "refs/tags/v*"', {}, true, /meets every condition/],
    ['source ref glob refuses a branch', 'source-ref = "refs/tags/v*"', { sourceRepositoryRef: 'refs/heads/main' }, false, /does not match the certificate's ref refs\/heads\/main/],
    ['no source ref refused', 'source-ref = "refs/tags/v*"', { sourceRepositoryRef: null }, false, /names no source repository ref/],
    ['predicate type matches', 'predicate-type = "https://slsa.dev/provenance/v1"', {}, true, /meets every condition/],
    ['predicate type differs', 'predicate-type = "https://slsa.dev/provenance/v0.2"', {}, false, /statement's is https:\/\/slsa\.dev\/provenance\/v1/],
    ['signer digest matches (any case)', `signer-digest = "${DIGEST.toUpperCase()}"`, {}, true, /meets every condition/],
    ['signer digest differs', `signer-digest = "${'c'.repeat(40)}"`, {}, false, /signer-digest = "c+", but the certificate's is b+/],
  ];
  for (const [name, condition, override, pass, reason] of cases) {
    test(name, () => {
      const verdict = evaluatePolicy(policyWith(condition), input({ attestations: [facts(override)] }));
      assert.equal(verdict.pass, pass, verdict.reason);
      if (!pass) assert.equal(verdict.code, 'policy.untrusted_builder');
      assert.equal(verdict.ruleChecks.length, 1);
      assert.equal(verdict.ruleChecks[0]!.rule, 'builders[0]');
      assert.equal(verdict.ruleChecks[0]!.matched, pass);
      assert.match(verdict.ruleChecks[0]!.reason, reason);
      assert.equal(verdict.ruleChecks[0]!.line, 5);
    });
  }

  test('the first entry that matches wins; --explain lists each tried with why', () => {
    const policy = parsePolicy(
      `version = 1\n[defaults]\nrequire = "build"\n[[builders]]\nissuer = "${GHA}"\nidentity = "${BUILDER}"\nrunner = "github-hosted"\n[[builders]]\nissuer = "${GHA}"\nidentity = "${BUILDER}"\n`,
      'p.toml',
    );
    const verdict = evaluatePolicy(policy, input({ attestations: [facts({ runnerEnvironment: 'self-hosted' })] }));
    assert.equal(verdict.pass, true);
    assert.equal(verdict.matchedRule, 'builders[1]');
    assert.deepEqual(verdict.ruleChecks.map((c) => [c.rule, c.matched]), [['builders[0]', false], ['builders[1]', true]]);
  });

  test('publisher entries take the same conditions', () => {
    const policy = parsePolicy(`version = 1\n[defaults]\nrequire = "publish"\n[[publishers]]\nissuer = "${GHA}"\nrepository = "pypa/sampleproject"\nsource-ref = "refs/tags/*"\nrunner = "github-hosted"\n`, 'p.toml');
    const publish = facts({ kind: 'publish', predicateType: 'https://docs.pypi.org/attestations/publish/v1', identity: 'https://github.com/pypa/sampleproject/.github/workflows/release.yml@refs/tags/v4.0.0' });
    assert.equal(evaluatePolicy(policy, input({ attestations: [publish] })).pass, true);
    const branch = evaluatePolicy(policy, input({ attestations: [{ ...publish, sourceRepositoryRef: 'refs/heads/dev' }] }));
    assert.equal(branch.code, 'policy.untrusted_publisher');
    assert.match(branch.ruleChecks[0]!.reason, /source-ref/);
  });

  test('explain names the conditions', () => {
    const text = explainPolicy(policyWith('runner = "github-hosted"\nsource-ref = "refs/tags/v*"'), 'demo').text;
    assert.match(text, /only with runner github-hosted, source ref matching refs\/tags\/v\*/);
    assert.match(text, /fail-on-status = \["quarantined"\] \(\[defaults\]\)/);
  });
});

describe('malformed conditions', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown runner', 'runner = "cloud"', /builders\[0\]\.runner: "cloud" is not one of "github-hosted", "self-hosted"/],
    ['ref without refs/', 'source-ref = "v1.*"', /builders\[0\]\.source-ref: is a git ref as the certificate names it/],
    ['predicate type not a URI', 'predicate-type = "slsa provenance"', /builders\[0\]\.predicate-type: must be a URI/],
    ['digest not hex', 'signer-digest = "main"', /builders\[0\]\.signer-digest: must be a 40- or 64-hex digest/],
  ];
  for (const [name, condition, message] of cases) {
    test(name, () => {
      assert.throws(() => policyWith(condition), (error) => error instanceof CairnError && error.code === 'policy.invalid' && message.test(error.message));
    });
  }
  test('fail-on-status takes only PEP 792 statuses other than active', () => {
    for (const bad of ['fail-on-status = "quarantined"', 'fail-on-status = ["active"]', 'fail-on-status = ["removed"]']) {
      assert.throws(() => policyWith('', `${bad}\n`), (error) => error instanceof CairnError && error.code === 'policy.invalid' && /defaults\.fail-on-status/.test(error.message), bad);
    }
  });
});

describe('PEP 792 project status', () => {
  const policy = policyWith('', '');
  test('quarantined fails by default; the reason names the status and its reason', () => {
    const verdict = evaluatePolicy(policy, input({ projectStatus: { status: 'quarantined', reason: 'malware' } }));
    assert.equal(verdict.pass, false);
    assert.equal(verdict.code, 'policy.project_status');
    assert.match(verdict.reason, /marks demo quarantined \(malware\) \(PEP 792\), and \[defaults\] fail-on-status lists it/);
  });
  test('deprecated is a warning unless the policy lists it', () => {
    const warned = evaluatePolicy(policy, input({ projectStatus: { status: 'deprecated', reason: null } }));
    assert.equal(warned.pass, true);
    assert.deepEqual(warned.warnings, ['the index marks demo deprecated (PEP 792)']);
    const strict = parsePolicy(
      `version = 1\n[defaults]\nrequire = "build"\n[[builders]]\nissuer = "${GHA}"\nidentity = "${BUILDER}"\n[projects.demo]\nfail-on-status = ["deprecated", "archived"]\n`,
      'p.toml',
    );
    const failed = evaluatePolicy(strict, input({ projectStatus: { status: 'deprecated', reason: 'use demo2' } }));
    assert.equal(failed.code, 'policy.project_status');
    assert.match(failed.reason, /\[projects\.demo\] fail-on-status/);
    assert.equal(evaluatePolicy(strict, input({ projectStatus: { status: 'quarantined', reason: null } })).pass, true, 'a project list replaces the default one');
  });
  test('active and unknown statuses change nothing', () => {
    assert.deepEqual(evaluatePolicy(policy, input({ projectStatus: { status: 'active', reason: null } })).warnings, []);
    assert.equal(evaluatePolicy(policy, input()).projectStatus, undefined);
  });
});
