import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CairnError } from '../../src/errors.ts';
import { isPylockFilename, parsePylock, withAttestationIdentities } from '../../src/formats/pylock.ts';
import { parsePinnedRequirement, parseRequirementsTxt } from '../../src/formats/requirements-txt.ts';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function lockfileError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof CairnError);
    assert.equal(error.code, 'lockfile.invalid');
    return error.message;
  }
  assert.fail('parsed but should not have');
}

describe('requirements.txt', () => {
  test('pinned lines with hashes, continuations, comments, extras, markers and includes', () => {
    const text = [
      '# a comment',
      '--index-url https://pypi.org/simple',
      `Requests[socks]==2.32.3 \\`,
      `    --hash=sha256:${H1} \\`,
      `    --hash=sha256:${H2.toUpperCase()}`,
      'idna==3.7 ; python_version >= "3.8"  # trailing comment',
      `certifi===2024.2.2 --hash sha256:${H1}`,
      '-r more.txt',
      '',
    ].join('\n');
    const parsed = parseRequirementsTxt(text, 'req.txt');
    assert.equal(parsed.indexUrl, 'https://pypi.org/simple');
    assert.deepEqual(parsed.includes, ['more.txt']);
    assert.deepEqual(
      parsed.requirements.map((r) => [r.name, r.normalizedName, r.version, r.sha256, r.origin]),
      [
        ['Requests', 'requests', '2.32.3', [H1, H2], 'req.txt:3'],
        ['idna', 'idna', '3.7', [], 'req.txt:6'],
        ['certifi', 'certifi', '2024.2.2', [H1], 'req.txt:7'],
      ],
    );
  });

  const bad: [string, string, string][] = [
    ['range', 'requests>=2.0\n', 'req.txt:1: `requests>=2.0` is not pinned to one version (write name==version)'],
    ['unpinned', 'flask\n', 'req.txt:1: `flask` is not pinned'],
    ['wildcard', 'flask==2.*\n', 'req.txt:1: `flask==2.*` uses a wildcard; pin one version'],
    ['editable', '-e ./src\n', 'req.txt:1: editable requirements have no published distribution to verify'],
    ['direct URL', 'pkg @ https://example.com/pkg-1.0.tar.gz\n', 'req.txt:1: `pkg @ https://example.com/pkg-1.0.tar.gz` is a direct URL reference'],
    ['bad hash', 'a==1 --hash=sha256:abc\n', 'req.txt:1: --hash=sha256:abc is not a sha256 hex digest'],
    ['bad version', 'a==not-a-version!\n', 'req.txt:1: `not-a-version!` is not a PEP 440 version'],
    ['unknown option', '--frobnicate\n', 'req.txt:1: unsupported option --frobnicate'],
  ];
  for (const [name, text, message] of bad) {
    test(`rejects ${name}`, () => assert.ok(lockfileError(() => parseRequirementsTxt(text, 'req.txt')).startsWith(message)));
  }

  test('a single pin from the command line', () => {
    assert.deepEqual(parsePinnedRequirement('Sample_Project==1.0').normalizedName, 'sample-project');
    assert.match(lockfileError(() => parsePinnedRequirement('a==1\nb==2')), /is not name==version/);
  });
});

const LOCK = `lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "Sample_Project"
version = "4.0.0"
index = "https://pypi.org/simple"

[packages.sdist]
url = "https://files.example/sampleproject-4.0.0.tar.gz"
hashes = { sha256 = "${H1}" }

[[packages.wheels]]
name = "sampleproject-4.0.0-py3-none-any.whl"
url = "https://files.example/whl"
hashes = { sha256 = "${H2.toUpperCase()}" }

# keep this comment
[[packages]]
name = "local"
version = "1.0"
attestation-identities = [{ kind = "GitHub", repository = "o/r", workflow = "release.yml" }]
wheels = [{ path = "dist/local-1.0-py3-none-any.whl", hashes = { sha256 = "${H1}" } }]

[[packages]]
name = "from-git"
vcs = { type = "git", url = "https://github.com/o/r", commit-id = "${'c'.repeat(40)}" }

[tool.example]
x = 1
`;

describe('pylock.toml (PEP 751)', () => {
  test('file names', () => {
    assert.equal(isPylockFilename('pylock.toml'), true);
    assert.equal(isPylockFilename('dir/pylock.dev.toml'), true);
    assert.equal(isPylockFilename('pylock.a.b.toml'), false);
    assert.equal(isPylockFilename('poetry.lock'), false);
  });

  test('packages, files, hashes, indexes, identities and other sources', () => {
    const lock = parsePylock(LOCK, 'pylock.toml');
    assert.equal(lock.lockVersion, '1.0');
    const [sample, local, git] = lock.packages;
    assert.equal(sample!.normalizedName, 'sample-project');
    assert.equal(sample!.index, 'https://pypi.org/simple');
    assert.deepEqual(
      sample!.files.map((f) => [f.kind, f.filename, f.sha256]),
      [
        ['sdist', 'sampleproject-4.0.0.tar.gz', H1],
        ['wheel', 'sampleproject-4.0.0-py3-none-any.whl', H2],
      ],
    );
    assert.equal(sample!.attestationIdentities, null);
    assert.deepEqual(local!.attestationIdentities, [{ kind: 'GitHub', repository: 'o/r', workflow: 'release.yml' }]);
    assert.equal(local!.files[0]!.path, 'dist/local-1.0-py3-none-any.whl');
    assert.equal(local!.files[0]!.filename, 'local-1.0-py3-none-any.whl');
    assert.equal(git!.otherSource, 'vcs');
    assert.equal(git!.files.length, 0);
  });

  const bad: [string, string, RegExp][] = [
    ['no lock-version', '[[packages]]\nname = "a"\n', /`lock-version` is required/],
    ['unknown major version', 'lock-version = "2.0"\n', /unsupported lock-version "2.0"/],
    ['file without hashes', 'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\nsdist = { url = "https://x/a-1.tar.gz" }\n', /packages\[0\] \(a\)\.sdist\.hashes: is required/],
    ['bad sha256', `lock-version = "1.0"\n[[packages]]\nname = "a"\nsdist = { url = "https://x/a-1.tar.gz", hashes = { sha256 = "xyz" } }\n`, /sdist\.hashes\.sha256: must be a hex sha256 digest/],
    ['identity without kind', `lock-version = "1.0"\n[[packages]]\nname = "a"\nattestation-identities = [{ repository = "o/r" }]\n`, /attestation-identities\[0\]: must be a table with a `kind` string/],
    ['vcs and wheels', `lock-version = "1.0"\n[[packages]]\nname = "a"\nvcs = { type = "git", url = "u" }\nwheels = [{ url = "https://x/a-1-py3-none-any.whl", hashes = { sha256 = "${H1}" } }]\n`, /has vcs and sdist\/wheels/],
    ['TOML syntax', 'lock-version = \n', /pylock\.toml:1:\d+: not valid TOML/],
  ];
  for (const [name, text, message] of bad) {
    test(`rejects ${name}`, () => assert.match(lockfileError(() => parsePylock(text, 'pylock.toml')), message));
  }

  test('attestation identities are written into the right [[packages]] tables, keeping the rest', () => {
    const identities = new Map([
      ['sample-project==4.0.0', [{ kind: 'GitHub', repository: 'pypa/sampleproject', workflow: 'release.yml' }]],
      ['local==1.0', [{ kind: 'cairn:signer', issuer: 'https://issuer.example', identity: 'https://x/y' }]],
    ]);
    const out = withAttestationIdentities(LOCK, identities);
    assert.match(out, /# keep this comment/);
    assert.match(out, /\[tool\.example\]\nx = 1/);
    const lock = parsePylock(out);
    assert.deepEqual(lock.packages[0]!.attestationIdentities, [{ kind: 'GitHub', repository: 'pypa/sampleproject', workflow: 'release.yml' }]);
    assert.deepEqual(lock.packages[1]!.attestationIdentities, [{ kind: 'cairn:signer', issuer: 'https://issuer.example', identity: 'https://x/y' }]);
    assert.equal(lock.packages[2]!.attestationIdentities, null);
    assert.equal(lock.packages[0]!.files.length, 2, 'the package sub-tables still belong to the package');
    // Writing again replaces instead of duplicating.
    assert.equal(withAttestationIdentities(out, identities), out);
  });
});
