import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CairnError } from '../../src/errors.ts';
import type { AttestationFacts } from '../../src/formats/provenance-object.ts';
import { loadPolicy } from '../../src/client/load-policy.ts';
import { decideDistribution, EXAMPLE_POLICY, evaluatePolicy, explainPolicy, lockIdentityOf, matchesGlob, parsePolicy, stableIdentity, type PolicyInput } from '../../src/policy/index.ts';

const GHA = 'https://token.actions.githubusercontent.com';
const BUILDER = 'https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v1.2.0';

function facts(overrides: Partial<AttestationFacts> = {}): AttestationFacts {
  return {
    kind: 'build',
    predicateType: 'https://slsa.dev/provenance/v1',
    issuer: GHA,
    identity: BUILDER,
    buildSignerUri: BUILDER,
    buildSignerDigest: null,
    sourceRepositoryUri: 'https://github.com/pypa/sampleproject',
    sourceRepositoryDigest: 'a'.repeat(40),
    sourceRepositoryRef: 'refs/tags/v4.0.0',
    buildConfigUri: 'https://github.com/pypa/sampleproject/.github/workflows/release.yml@refs/tags/v4.0.0',
    runInvocationUri: null,
    runnerEnvironment: null,
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

const publishFacts = (overrides: Partial<AttestationFacts> = {}) =>
  facts({
    kind: 'publish',
    predicateType: 'https://docs.pypi.org/attestations/publish/v1',
    identity: 'https://github.com/pypa/sampleproject/.github/workflows/release.yml@refs/tags/v4.0.0',
    buildSignerUri: 'https://github.com/pypa/sampleproject/.github/workflows/release.yml@refs/tags/v4.0.0',
    buildType: null,
    builderId: null,
    statementRepository: null,
    statementCommit: null,
    ...overrides,
  });

const POLICY = `version = 1

[defaults]
require = "build"

[[builders]]
issuer = "${GHA}"
identity = "https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v*"

[[publishers]]
issuer = "${GHA}"
repository = "pypa/sampleproject"
workflow = "release.yml"

[projects.Sample_Project]
require = "publish"
source-repository = "https://github.com/pypa/sampleproject"

[projects.strict]
source-repository = "https://github.com/strict-org/strict"
identity-continuity = "fail"

[projects.legacy]
require = "none"
`;

function input(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return { project: 'demo', version: '1.0', filename: 'demo-1.0.tar.gz', attestations: [facts()], ...overrides };
}

function policyError(text: string): CairnError {
  try {
    parsePolicy(text, 'p.toml');
  } catch (error) {
    assert.ok(error instanceof CairnError, `expected CairnError, got ${String(error)}`);
    assert.equal(error.code, 'policy.invalid');
    return error;
  }
  assert.fail('the policy parsed but should not have');
}

describe('parsePolicy: malformed policies', () => {
  const cases: [string, string, string][] = [
    ['TOML syntax error', 'version = 1\n[defaults\nrequire = "build"\n', 'p.toml:2:'],
    ['missing version', '[defaults]\nrequire = "build"\n', 'p.toml: version: missing; start the file with `version = 1`'],
    ['unsupported version', 'version = 2\n', 'p.toml:1: version: unsupported policy version number 2; this cairn reads `version = 1`'],
    ['version as string', 'version = "1"\n', 'p.toml:1: version: unsupported policy version the string "1"; this cairn reads `version = 1`'],
    ['unknown top-level key', 'version = 1\ntrust-everyone = true\n', 'p.toml:2: trust-everyone: unknown key `trust-everyone`; allowed here: version, defaults, builders, publishers, projects'],
    ['misspelt top-level table', 'version = 1\n[[builder]]\nissuer = "https://x"\n', 'p.toml:2: builder: unknown key `builder`; did you mean `builders`? allowed here: version, defaults, builders, publishers, projects'],
    ['bad require value', 'version = 1\n[defaults]\nrequire = "always"\n', 'p.toml:3: defaults.require: "always" is not one of "build", "publish", "any", "none"'],
    ['require not a string', 'version = 1\n[defaults]\nrequire = true\n', 'p.toml:3: defaults.require: must be a string (one of "build", "publish", "any", "none"), got boolean true'],
    ['unknown key in defaults', 'version = 1\n[defaults]\nrequire = "build"\nrequires = "x"\n', 'p.toml:4: defaults.requires: unknown key `requires`; did you mean `require`? allowed here: require, identity-continuity'],
    ['defaults not a table', 'version = 1\ndefaults = "build"\n', 'p.toml:2: defaults: must be a table (write [defaults]), got the string "build"'],
    ['builders as a table', 'version = 1\n[builders]\nissuer = "https://x"\n', 'p.toml:2: builders: must be an array of tables (write [[builders]] per trusted builder), got a table'],
    ['builder without identity', `version = 1\n\n[[builders]]\nissuer = "${GHA}"\n`, 'p.toml:3: builders[0]: missing `identity`'],
    ['builder without issuer', 'version = 1\n[[builders]]\nidentity = "https://github.com/o/r/.github/workflows/b.yml@*"\n', 'p.toml:2: builders[0]: missing `issuer` (the exact OIDC issuer URL'],
    ['second builder unknown key', `version = 1\n[[builders]]\nissuer = "${GHA}"\nidentity = "https://a/b"\n[[builders]]\nissuer = "${GHA}"\nidentty = "https://a/c"\n`, 'p.toml:7: builders[1].identty: unknown key `identty`; did you mean `identity`?'],
    ['issuer with wildcard', 'version = 1\n[[builders]]\nissuer = "https://*.example"\nidentity = "https://a/b"\n', 'p.toml:3: builders[0].issuer: must be an exact http(s) issuer URL without wildcards'],
    ['issuer not a URL', 'version = 1\n[[builders]]\nissuer = "github"\nidentity = "https://a/b"\n', 'p.toml:3: builders[0].issuer: must be an exact http(s) issuer URL without wildcards, got "github"'],
    ['identity matches everyone', `version = 1\n[[builders]]\nissuer = "${GHA}"\nidentity = "**"\n`, 'p.toml:4: builders[0].identity: "**" matches every signer of the issuer; name the builder or repository'],
    ['empty identity', `version = 1\n[[builders]]\nissuer = "${GHA}"\nidentity = ""\n`, 'p.toml:4: builders[0].identity: must not be empty'],
    ['publisher repository not OWNER/REPO', `version = 1\n[[publishers]]\nissuer = "${GHA}"\nrepository = "https://github.com/o/r"\n`, 'p.toml:4: publishers[0].repository: must be OWNER/REPO, got "https://github.com/o/r"'],
    ['publisher workflow with path', `version = 1\n[[publishers]]\nissuer = "${GHA}"\nrepository = "o/r"\nworkflow = ".github/workflows/release.yml"\n`, 'p.toml:5: publishers[0].workflow: is a file name under .github/workflows/, without a path'],
    ['publisher unknown key', `version = 1\n[[publishers]]\nissuer = "${GHA}"\nrepository = "o/r"\nenvironment = "pypi"\n`, 'p.toml:5: publishers[0].environment: unknown key `environment`; allowed here: issuer, repository, workflow, identity'],
    ['publisher with neither repository nor identity', `version = 1\n[[publishers]]\nissuer = "${GHA}"\n`, 'p.toml:2: publishers[0]: missing `repository` (OWNER/REPO of the publishing workflow) or `identity`'],
    ['publisher with both repository and identity', `version = 1\n[[publishers]]\nissuer = "${GHA}"\nrepository = "o/r"\nidentity = "a@b.c"\n`, 'p.toml:5: publishers[0].identity: give `repository` (and `workflow`) or `identity`, not both'],
    ['publisher workflow without repository', `version = 1\n[[publishers]]\nissuer = "${GHA}"\nidentity = "a@b.c"\nworkflow = "r.yml"\n`, 'p.toml:5: publishers[0].workflow: only applies with `repository`'],
    ['project unknown key', 'version = 1\n[projects.demo]\nrequire = "build"\nsource_repository = "https://github.com/o/r"\n', 'p.toml:4: projects.demo.source_repository: unknown key `source_repository`; did you mean `source-repository`?'],
    ['project bad source repository', 'version = 1\n[projects.demo]\nsource-repository = "o/r"\n', 'p.toml:3: projects.demo.source-repository: must be a repository URL such as "https://github.com/OWNER/REPO", got "o/r"'],
    ['project source with require none', 'version = 1\n[projects.demo]\nrequire = "none"\nsource-repository = "https://github.com/o/r"\n', 'p.toml:4: projects.demo.source-repository: cannot be checked when `require = "none"`'],
    ['project invalid name', 'version = 1\n[projects."-bad-"]\nrequire = "build"\n', 'p.toml:2: projects.-bad-: "-bad-" is not a valid project name'],
    ['project duplicate after normalisation', 'version = 1\n[projects.Foo_Bar]\nrequire = "build"\n[projects."foo.bar"]\nrequire = "publish"\n', 'p.toml:4: projects.foo.bar: names the same project as [projects.Foo_Bar] (names compare in PEP 503 normal form, foo-bar)'],
    ['project continuity value', 'version = 1\n[projects.demo]\nidentity-continuity = "strict"\n', 'p.toml:3: projects.demo.identity-continuity: "strict" is not one of "off", "warn", "fail"'],
    ['project not a table', 'version = 1\n[projects]\ndemo = "build"\n', 'p.toml:3: projects.demo: must be a table (the rule for one project), got the string "build"'],
    ['whitespace around identity', `version = 1\n[[builders]]\nissuer = "${GHA}"\nidentity = " https://a/b"\n`, 'p.toml:4: builders[0].identity: has leading or trailing whitespace: " https://a/b"'],
  ];
  for (const [name, text, message] of cases) {
    test(name, () => {
      const error = policyError(text);
      assert.ok(error.message.startsWith(message), `message was:\n  ${error.message}\nexpected to start with:\n  ${message}`);
      assert.equal(error.details?.source, 'p.toml');
    });
  }

  test('errors carry line and key in details', () => {
    const error = policyError(`version = 1\n[[builders]]\nissuer = "${GHA}"\nidentity = "https://a/b"\ncolour = "red"\n`);
    assert.equal(error.details?.line, 5);
    assert.equal(error.details?.key, 'builders[0].colour');
  });

  test('array elements and keys after a multi-line string are located on their own lines', () => {
    const inline = policyError(`version = 1\nbuilders = [\n  { issuer = "${GHA}", identity = "https://a/b" },\n  { issuer = "${GHA}", identty = "https://a/c" },\n]\n`);
    assert.equal(inline.details?.line, 4);
    assert.equal(inline.details?.key, 'builders[1].identty');
    const multiline = policyError(`version = 1\n[[builders]]\nissuer = "${GHA}"\nidentity = '''\n[[builders]]\ncolour = "x"'''\ncolour = "red"\n`);
    assert.equal(multiline.details?.line, 7);
    assert.equal(multiline.details?.key, 'builders[0].colour');
  });

  test('dotted keys and inline tables are located too', () => {
    const error = policyError('version = 1\n\nprojects.demo.require = "sometimes"\n');
    assert.equal(error.details?.line, 3);
    assert.equal(error.details?.key, 'projects.demo.require');
  });
});

describe('parsePolicy: valid policies', () => {
  test('the DESIGN §10 shape parses with per-project rules under normalised names', () => {
    const policy = parsePolicy(POLICY, 'p.toml');
    assert.equal(policy.defaults.require, 'build');
    assert.equal(policy.defaults.identityContinuity, 'warn');
    assert.equal(policy.builders.length, 1);
    assert.equal(policy.builders[0]!.line, 6);
    assert.deepEqual(policy.publishers[0], { issuer: GHA, repository: 'pypa/sampleproject', workflow: 'release.yml', line: 10 });
    assert.deepEqual([...policy.projects.keys()], ['sample-project', 'strict', 'legacy']);
    assert.equal(policy.projects.get('sample-project')!.require, 'publish');
  });

  test('defaults apply when [defaults] is absent', () => {
    const policy = parsePolicy('version = 1\n');
    assert.deepEqual(policy.defaults, { require: 'any', identityContinuity: 'warn', failOnStatus: ['quarantined'] });
  });

  test('the example written by `cairn policy init` parses', () => {
    const policy = parsePolicy(EXAMPLE_POLICY, 'example');
    assert.equal(policy.builders.length, 1);
    assert.equal(policy.publishers.length, 1);
    assert.equal(policy.projects.get('sampleproject')?.require, 'publish');
  });

  test('loadPolicy reads a path, parses text, and reports a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-policy-'));
    const path = join(dir, 'cairn-policy.toml');
    writeFileSync(path, POLICY);
    assert.equal(loadPolicy(path).source, path);
    assert.equal(loadPolicy(POLICY).builders.length, 1);
    assert.throws(() => loadPolicy(join(dir, 'absent.toml')), (e: unknown) => e instanceof CairnError && e.code === 'policy.invalid' && /no such file/.test(e.message));
  });
});

describe('identity globs', () => {
  const cases: [string, string, boolean][] = [
    ['https://github.com/o/b/.github/workflows/build.yml@refs/tags/v*', 'https://github.com/o/b/.github/workflows/build.yml@refs/tags/v1.2.0', true],
    ['https://github.com/o/b/.github/workflows/build.yml@refs/tags/v*', 'https://github.com/o/b/.github/workflows/build.yml@refs/heads/main', false],
    ['https://github.com/o/b/.github/workflows/build.yml@refs/tags/v*', 'https://github.com/o/b/.github/workflows/build.yml@refs/tags/v1/evil', false],
    ['https://github.com/o/*/.github/workflows/build.yml@*', 'https://github.com/o/b/.github/workflows/build.yml@refs/tags/v1', false],
    ['https://github.com/o/*/.github/workflows/build.yml@**', 'https://github.com/o/b/.github/workflows/build.yml@refs/tags/v1', true],
    ['https://github.com/o/*/.github/workflows/build.yml@**', 'https://github.com/o/b/c/.github/workflows/build.yml@refs/tags/v1', false],
    ['https://github.com/o/**', 'https://github.com/o/b/c/anything', true],
    ['https://github.com/o/b.yml@v?', 'https://github.com/o/b.yml@v1', true],
    ['https://github.com/o/b.yml@v?', 'https://github.com/o/bXyml@v1', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['https://github.com/o/b', 'https://github.com/o/b/extra', false],
  ];
  for (const [glob, value, expected] of cases) {
    test(`${glob} ${expected ? 'matches' : 'does not match'} ${value}`, () => assert.equal(matchesGlob(glob, value), expected));
  }
});

describe('evaluatePolicy', () => {
  const policy = parsePolicy(POLICY, 'p.toml');
  const otherBuilder = 'https://github.com/mallory/builder/.github/workflows/build.yml@refs/tags/v1';

  const cases: [string, PolicyInput, boolean, string | undefined, RegExp][] = [
    ['trusted builder passes', input(), true, undefined, /trusted by builders\[0\]/],
    ['valid provenance by an untrusted builder fails', input({ attestations: [facts({ identity: otherBuilder })] }), false, 'policy.untrusted_builder', /mallory.*matches no \[\[builders\]\] entry/],
    ['same identity from another issuer fails', input({ attestations: [facts({ issuer: 'https://gitlab.com' })] }), false, 'policy.untrusted_builder', /issuer https:\/\/gitlab\.com/],
    ['builder branch ref not matched by tag glob', input({ attestations: [facts({ identity: BUILDER.replace('refs/tags/v1.2.0', 'refs/heads/main') })] }), false, 'policy.untrusted_builder', /refs\/heads\/main/],
    ['no attestation fails', input({ attestations: [] }), false, 'policy.missing_provenance', /carries no verified attestation; \[defaults\] requires build provenance for demo/],
    ['a trusted publish attestation does not satisfy require=build', input({ attestations: [publishFacts()] }), false, 'policy.missing_provenance', /carries only publish attestations/],
    ['one trusted among untrusted passes', input({ attestations: [facts({ identity: otherBuilder }), facts()] }), true, undefined, /builders\[0\]/],
    ['project rule overrides defaults: publish required', input({ project: 'sample.project', attestations: [facts()] }), false, 'policy.missing_provenance', /\[projects\.sample-project\] requires a publish attestation/],
    ['project publish rule passes with the trusted publisher', input({ project: 'Sample-Project', attestations: [publishFacts()] }), true, undefined, /publishers\[0\]/],
    ['publisher workflow differs', input({ project: 'sample-project', attestations: [publishFacts({ buildConfigUri: 'https://github.com/pypa/sampleproject/.github/workflows/other.yml@refs/tags/v4.0.0', identity: 'https://github.com/pypa/sampleproject/.github/workflows/other.yml@refs/tags/v4.0.0' })] }), false, 'policy.untrusted_publisher', /matches no \[\[publishers\]\]/],
    ['publisher repository differs', input({ project: 'sample-project', attestations: [publishFacts({ sourceRepositoryUri: 'https://github.com/evil/sampleproject' })] }), false, 'policy.untrusted_publisher', /matches no \[\[publishers\]\]/],
    ['publisher repository compares case-insensitively', input({ project: 'sample-project', attestations: [publishFacts({ sourceRepositoryUri: 'https://github.com/PyPA/SampleProject' })] }), true, undefined, /publishers\[0\]/],
    ['source-repository rejects provenance naming another repository', input({ project: 'strict' }), false, 'policy.source_mismatch', /names source repository https:\/\/github\.com\/pypa\/sampleproject, the policy requires https:\/\/github\.com\/strict-org\/strict/],
    ['source-repository accepts the named repository (.git and case ignored)', input({ project: 'strict', attestations: [facts({ statementRepository: 'https://github.com/Strict-Org/strict.git', sourceRepositoryUri: 'https://github.com/strict-org/strict' })] }), true, undefined, /names https:\/\/github\.com\/strict-org\/strict/],
    ['source-repository: statement and certificate must both name it', input({ project: 'strict', attestations: [facts({ statementRepository: 'https://github.com/strict-org/strict', sourceRepositoryUri: 'https://github.com/other/strict' })] }), false, 'policy.source_mismatch', /other\/strict/],
    ['publisher by identity (email signer)', input({ project: 'sample-project', attestations: [publishFacts({ issuer: 'https://accounts.google.com', identity: 'release@proj.iam.gserviceaccount.com', sourceRepositoryUri: null })] }), false, 'policy.untrusted_publisher', /release@proj/],
    ['require none passes without provenance', input({ project: 'legacy', attestations: [] }), true, undefined, /requires no provenance for legacy/],
  ];
  for (const [name, given, pass, code, reason] of cases) {
    test(name, () => {
      const verdict = evaluatePolicy(policy, given);
      assert.equal(verdict.pass, pass, verdict.reason);
      assert.equal(verdict.code, code);
      assert.match(verdict.reason, reason);
    });
  }

  test('a passing verdict names signer, builder and source', () => {
    const verdict = evaluatePolicy(policy, input());
    assert.deepEqual(verdict.signer, { issuer: GHA, identity: BUILDER });
    assert.equal(verdict.builder, BUILDER);
    assert.equal(verdict.sourceRepository, 'https://github.com/pypa/sampleproject');
    assert.equal(verdict.sourceCommit, 'a'.repeat(40));
    assert.equal(verdict.matchedRule, 'builders[0]');
    assert.equal(verdict.required, 'build');
  });
});

describe('evaluatePolicy: a policy that trusts nobody fails closed', () => {
  const cases: [string, string, string, PolicyInput][] = [
    ['no builders, require build', 'version = 1\n[defaults]\nrequire = "build"\n', 'no [[builders]]', input()],
    ['no publishers, require publish', `version = 1\n[defaults]\nrequire = "publish"\n[[builders]]\nissuer = "${GHA}"\nidentity = "https://a/b"\n`, 'no [[publishers]]', input({ attestations: [publishFacts()] })],
    ['nobody at all, require any (the default)', 'version = 1\n', 'no [[builders]] and no [[publishers]]', input()],
  ];
  for (const [name, text, missing, given] of cases) {
    test(name, () => {
      const verdict = evaluatePolicy(parsePolicy(text, 'empty.toml'), given);
      assert.equal(verdict.pass, false);
      assert.equal(verdict.code, 'policy.trusts_nobody');
      assert.match(verdict.reason, new RegExp(`the policy empty\\.toml names ${missing.replace(/[[\]]/g, '\\$&')}.*failing closed`));
    });
  }
});

describe('identity continuity', () => {
  const policy = parsePolicy(POLICY, 'p.toml');
  const stable = stableIdentity(BUILDER);
  const previous = [{ kind: 'build' as const, issuer: GHA, identity: 'https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v1.1.0' }];

  test('the @ref of a workflow identity is not part of the continuity identity', () => {
    assert.equal(stable, 'https://github.com/example-org/builder/.github/workflows/build.yml');
    assert.equal(stableIdentity('someone@example.com'), 'someone@example.com');
  });

  const cases: [string, PolicyInput, string, boolean, string | undefined][] = [
    ['no history given', input(), 'unknown', true, undefined],
    ['first release with provenance', input({ previousIdentities: [] }), 'new', true, undefined],
    ['same builder, new tag', input({ previousIdentities: previous }), 'same', true, undefined],
    ['changed builder (warn): passes with a warning', input({ attestations: [facts({ identity: 'https://github.com/example-org/builder/.github/workflows/build2.yml@refs/tags/v1' })], previousIdentities: previous }), 'changed', false, undefined],
    ['changed builder under continuity=fail', input({ project: 'strict', attestations: [facts({ statementRepository: 'https://github.com/strict-org/strict', sourceRepositoryUri: 'https://github.com/strict-org/strict', identity: 'https://github.com/example-org/builder/.github/workflows/build.yml@refs/tags/v2' })], previousIdentities: [{ kind: 'build', issuer: GHA, identity: 'https://github.com/example-org/old/.github/workflows/build.yml' }] }), 'changed', false, 'policy.identity_changed'],
    ['lost provenance under continuity=fail', input({ project: 'strict', attestations: [], previousIdentities: previous }), 'lost', false, 'policy.missing_provenance'],
    ['inconsistent release files', input({ siblingIdentities: [{ filename: 'demo-1.0-py3-none-any.whl', identities: [{ kind: 'build', issuer: GHA, identity: 'https://github.com/someone/else/.github/workflows/b.yml@x' }] }] }), 'inconsistent', false, undefined],
  ];
  for (const [name, given, status, _unused, code] of cases) {
    test(name, () => {
      const verdict = evaluatePolicy(policy, given);
      assert.equal(verdict.continuity.status, status);
      if (code) {
        assert.equal(verdict.pass, false);
        assert.equal(verdict.code, code);
      } else if (status === 'changed' || status === 'inconsistent') {
        assert.equal(verdict.pass, given.attestations.every((a) => a.identity === BUILDER) || status === 'inconsistent', verdict.reason);
        assert.ok(verdict.warnings.some((w) => w.startsWith(`identity continuity ${status}:`)), JSON.stringify(verdict.warnings));
      } else {
        assert.equal(verdict.warnings.length, 0);
      }
    });
  }

  test('continuity=fail turns a trusted but changed signer into a failure with the reason', () => {
    const text = POLICY.replace('require = "build"\n', 'require = "build"\nidentity-continuity = "fail"\n');
    const verdict = evaluatePolicy(parsePolicy(text), input({ attestations: [facts()], previousIdentities: [{ kind: 'build', issuer: GHA, identity: 'https://github.com/example-org/builder/.github/workflows/old.yml' }] }));
    assert.equal(verdict.code, 'policy.identity_changed');
    assert.match(verdict.reason, /\[defaults\] identity-continuity = "fail"\): demo-1\.0\.tar\.gz is signed by build by .*earlier releases by build by https:\/\/github\.com\/example-org\/builder\/\.github\/workflows\/old\.yml/);
  });
});

describe('explainPolicy', () => {
  const policy = parsePolicy(POLICY, 'p.toml');
  test('names the project table, the kind, the trusted signers with lines, and the source rule', () => {
    const { text } = explainPolicy(policy, 'sample_project');
    assert.match(text, /\[projects\.sample-project\] \(line 15\) applies/);
    assert.match(text, /require = "publish" \(\[projects\.sample-project\]\)/);
    assert.match(text, /publishers\[0\] \(line 10\): issuer https:\/\/token\.actions\.githubusercontent\.com, repository pypa\/sampleproject, workflow release\.yml/);
    assert.match(text, /source-repository = https:\/\/github\.com\/pypa\/sampleproject/);
  });
  test('a project without a table gets the defaults', () => {
    const { text, require } = explainPolicy(policy, 'unknown-project');
    assert.equal(require, 'build');
    assert.match(text, /No \[projects\.unknown-project\] table: the \[defaults\] apply/);
    assert.match(text, /builders\[0\] \(line 6\)/);
  });
  test('says when the policy fails closed', () => {
    const { text } = explainPolicy(parsePolicy('version = 1\n[defaults]\nrequire = "build"\n'), 'x');
    assert.match(text, /policy\.trusts_nobody.*fails closed/);
  });
});

describe('publishers named by identity', () => {
  const policy = parsePolicy(`version = 1\n[defaults]\nrequire = "publish"\n[[publishers]]\nissuer = "https://accounts.google.com"\nidentity = "*@proj.iam.gserviceaccount.com"\n`);
  test('an email identity matches its glob under the exact issuer', () => {
    const verdict = evaluatePolicy(policy, input({ attestations: [publishFacts({ issuer: 'https://accounts.google.com', identity: 'release@proj.iam.gserviceaccount.com', sourceRepositoryUri: null })] }));
    assert.equal(verdict.pass, true, verdict.reason);
    assert.equal(verdict.matchedRule, 'publishers[0]');
  });
  test('another domain does not', () => {
    const verdict = evaluatePolicy(policy, input({ attestations: [publishFacts({ issuer: 'https://accounts.google.com', identity: 'release@proj.iam.gserviceaccount.com.evil.example', sourceRepositoryUri: null })] }));
    assert.equal(verdict.code, 'policy.untrusted_publisher');
  });
});

describe('decideDistribution: the policy verdict, then the lock file\'s identities', () => {
  const policy = parsePolicy(POLICY, 'p.toml');
  const evidence = (overrides: Partial<Parameters<typeof decideDistribution>[1]> = {}) => ({
    project: 'demo',
    version: '1.0',
    filename: 'demo-1.0-py3-none-any.whl',
    origin: 'pylock.toml packages[0]',
    attestations: [facts()],
    unverified: [],
    lockIdentities: [],
    ...overrides,
  });

  test('a passing file records the identity of the attestation that satisfied the rule', () => {
    const decision = decideDistribution(policy, evidence());
    assert.equal(decision.pass, true);
    assert.equal(decision.code, undefined);
    assert.deepEqual(decision.identities, [lockIdentityOf(facts())]);
  });

  test('an attestation that did not verify explains a missing-provenance failure', () => {
    const decision = decideDistribution(policy, evidence({ attestations: [], unverified: [{ source: 'a.json', code: 'provenance.signature_invalid', error: 'the signature does not verify' }] }));
    assert.equal(decision.pass, false);
    assert.equal(decision.code, 'provenance.signature_invalid');
    assert.equal(decision.reason, 'demo-1.0-py3-none-any.whl: the signature does not verify');
    assert.ok(decision.warnings.some((w) => w.startsWith('a.json: not verified [provenance.signature_invalid]')));
  });

  test('a lock file that records another signer refuses a file the policy accepts', () => {
    const other = lockIdentityOf(facts({ issuer: 'https://other.example', identity: 'https://other.example/builder' }));
    const decision = decideDistribution(policy, evidence({ lockIdentities: [other] }));
    assert.equal(decision.verdict.pass, true);
    assert.equal(decision.pass, false);
    assert.equal(decision.code, 'policy.lock_identity_mismatch');
    assert.match(decision.reason, /pylock\.toml packages\[0\]/);
  });

  test('a lock file that records the signer passes', () => {
    assert.equal(decideDistribution(policy, evidence({ lockIdentities: [lockIdentityOf(facts())] })).pass, true);
  });
});
