import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttestationFacts } from '../../src/formats/provenance-object.ts';
import { indexUrls } from '../../src/server/pages/index-urls.ts';
import type { ReleaseFileAttestation, ReleasePageData } from '../../src/server/pages/catalogue-views.ts';
import { attestationSummary, publisherLabel } from '../../src/server/ui/components.ts';
import { releasePage } from '../../src/server/ui/pages/release.ts';

const GITHUB = 'https://token.actions.githubusercontent.com';
const COMMIT = 'c'.repeat(40);

function facts(overrides: Partial<AttestationFacts>): AttestationFacts {
  return {
    kind: 'build',
    predicateType: 'https://slsa.dev/provenance/v1',
    issuer: GITHUB,
    identity: 'https://github.com/org/builder/.github/workflows/build.yml@refs/tags/v2',
    buildSignerUri: null,
    buildSignerDigest: null,
    sourceRepositoryUri: 'https://github.com/org/app',
    sourceRepositoryDigest: COMMIT,
    sourceRepositoryRef: null,
    buildConfigUri: null,
    runInvocationUri: null,
    runnerEnvironment: null,
    certificateNotBefore: '2025-03-01T10:00:00.000Z',
    certificateNotAfter: '2025-03-01T10:10:00.000Z',
    logIndex: '42',
    integratedTime: '2025-03-01T10:00:03.000Z',
    buildType: null,
    builderId: null,
    statementRepository: null,
    statementCommit: null,
    invocationId: null,
    ...overrides,
  };
}

const build: ReleaseFileAttestation = {
  id: 1,
  kind: 'build',
  predicateType: 'https://slsa.dev/provenance/v1',
  facts: facts({ builderId: 'https://github.com/org/builder/.github/workflows/build.yml@refs/tags/v2', statementRepository: 'https://github.com/org/app', statementCommit: COMMIT }),
  publisher: null,
  submittedBeforeUpload: false,
  firstParty: true,
  boundAt: '2025-03-01T11:00:00.000Z',
  parameters: { source: { repository: 'https://github.com/org/app', commit: COMMIT } },
};

const publish: ReleaseFileAttestation = {
  id: 2,
  kind: 'publish',
  predicateType: 'https://docs.pypi.org/attestations/publish/v1',
  facts: facts({ kind: 'publish', predicateType: 'https://docs.pypi.org/attestations/publish/v1', identity: 'https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0' }),
  publisher: { kind: 'GitHub', repository: 'org/app', workflow: 'release.yml', environment: 'pypi', claims: null },
  submittedBeforeUpload: true,
  firstParty: true,
  boundAt: '2025-03-01T11:00:00.000Z',
  parameters: null,
};

describe('provenance summaries', () => {
  test('build provenance names builder, repository and short commit, and when it was submitted', () => {
    assert.equal(
      attestationSummary(build),
      `Built by org/builder/.github/workflows/build.yml@refs/tags/v2 from org/app@ccccccc (submitted after upload)`,
    );
    assert.match(attestationSummary({ ...build, submittedBeforeUpload: true }), /\(submitted before upload\)$/);
  });

  test('without statement fields the certified builder and source are used', () => {
    const certified = { ...build, facts: facts({ buildSignerUri: 'https://github.com/org/b/.github/workflows/x.yml@refs/heads/main' }) };
    assert.equal(attestationSummary(certified), `Built by org/b/.github/workflows/x.yml@refs/heads/main from org/app@ccccccc (submitted after upload)`);
  });

  test("the statement's builder.id and source never stand in for the certificate's", () => {
    const forged = {
      ...build,
      facts: facts({
        identity: 'https://github.com/mallory/x/.github/workflows/evil.yml@refs/heads/main',
        sourceRepositoryUri: 'https://github.com/mallory/x',
        builderId: 'https://github.com/builders/cairn/.github/workflows/build.yml@refs/tags/v1',
        statementRepository: 'https://github.com/org/app',
      }),
    };
    assert.equal(attestationSummary(forged), `Built by mallory/x/.github/workflows/evil.yml@refs/heads/main from mallory/x@ccccccc (submitted after upload)`);
    const uncertified = { ...build, facts: facts({ sourceRepositoryUri: null, sourceRepositoryDigest: null, statementRepository: 'https://github.com/org/app', statementCommit: COMMIT }) };
    assert.equal(attestationSummary(uncertified), `Built by org/builder/.github/workflows/build.yml@refs/tags/v2 (submitted after upload)`);
  });

  test('publish attestations name the trusted publisher', () => {
    assert.equal(attestationSummary(publish), 'Published by GitHub org/app (release.yml) [environment pypi]');
    assert.equal(publisherLabel({ publisher: null, facts: facts({ identity: 'ci@example.org', issuer: 'https://issuer.example' }) }), 'ci@example.org (issuer https://issuer.example)');
    assert.equal(publisherLabel({ publisher: { kind: 'Google', email: 'svc@project.iam.gserviceaccount.com' }, facts: facts({}) }), 'Google svc@project.iam.gserviceaccount.com');
  });
});

describe('release page', () => {
  const data: ReleasePageData = {
    project: { id: 1, name: 'App', normalized_name: 'app', created_at: '2025-01-01T00:00:00.000Z', serial: 3, status: 'active', status_reason: null, status_changed_at: null },
    release: {
      id: 1,
      project_id: 1,
      version: '1.0',
      summary: 'An app',
      requires_python: null,
      info_json: '{}',
      yanked: 0,
      yanked_reason: null,
      created_at: '2025-03-01T11:00:00.000Z',
    },
    info: {},
    latestVersion: '1.0',
    versions: [{ version: '1.0', yanked: false }],
    files: [
      { id: 1, filename: 'app-1.0-py3-none-any.whl', packagetype: 'bdist_wheel', pythonVersion: 'py3', size: 2048, sha256: 'a'.repeat(64), uploadTime: '2025-03-01T11:00:00.000Z', requiresPython: '>=3.9', attestations: [build, publish] },
      { id: 2, filename: 'app-1.0.tar.gz', packagetype: 'sdist', pythonVersion: 'source', size: 100, sha256: 'b'.repeat(64), uploadTime: '2025-03-01T11:00:00.000Z', requiresPython: null, attestations: [] },
    ],
    provenance: { state: 'partial', explanation: '1 of 2 files carry provenance.' },
  };
  const page = releasePage({ baseUrl: 'https://pkgs.example.org', assets: { css: '/c.css', js: '/c.js' } }, data, { urls: indexUrls(null), devTrustBase: null });

  test('each file row has its size, type and a provenance line', () => {
    assert.match(page, /<td data-label="Type">Wheel<\/td>/);
    assert.match(page, /<td data-label="Size">2\.0 KiB<\/td>/);
    assert.match(page, /<td data-label="Size">100 B<\/td>/);
    assert.match(page, /<span class="prov-line prov-build">Built by org\/builder/);
    assert.match(page, /<span class="prov-line prov-publish">Published by GitHub org\/app \(release\.yml\) \[environment pypi\]<\/span>/);
    assert.match(page, /<span class="prov-line prov-none">No provenance<\/span>/);
  });

  test('the panel lists the verified facts and links the raw attestation', () => {
    assert.match(page, /<dt>Transparency log index<\/dt><dd><code>42<\/code><\/dd>/);
    assert.match(page, /<dt>Integrated time<\/dt><dd><time datetime="2025-03-01T10:00:03.000Z">2025-03-01 10:00 UTC<\/time>/);
    assert.match(page, /<dt>Certificate valid<\/dt><dd><time datetime="2025-03-01T10:00:00.000Z">[^<]*<\/time> to <time datetime="2025-03-01T10:10:00.000Z">/);
    assert.match(page, /<dt>Trusted publisher<\/dt><dd>GitHub org\/app \(release\.yml\) \[environment pypi\]<\/dd>/);
    assert.ok(page.includes(`href="https://github.com/org/app/commit/${COMMIT}"`));
    assert.ok(page.includes('href="/integrity/app/1.0/app-1.0-py3-none-any.whl/provenance"'));
    assert.ok(!page.includes('/integrity/app/1.0/app-1.0.tar.gz/provenance'), 'no raw link where there is nothing to show');
    assert.ok(page.includes("cairn verify &#39;app==1.0&#39; --index https://pkgs.example.org</code>"));
    assert.ok(!page.includes('--dev-trust'));
  });

  test('the release state is shown with its explanation', () => {
    assert.match(page, /<span class="badge badge-partial" title="1 of 2 files carry provenance\.">Partial provenance<\/span> <span class="badge-explanation">1 of 2 files carry provenance\.<\/span>/);
  });
});
