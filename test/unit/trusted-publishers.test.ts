import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttestationFacts } from '../../src/formats/provenance-object.ts';
import type { TrustedPublisher } from '../../src/server/publishing/trusted-publishers.ts';
import {
  GITHUB_OIDC_ISSUER,
  GITLAB_OIDC_ISSUER,
  GOOGLE_OIDC_ISSUER,
  publisherClaimMismatch,
  mismatchedClaim,
  repositoryClaimFor,
  signedFromPublisherRepository,
  CLAIM_RULES,
  claimRulesMismatch,
  repositoryKey,
  signerMismatch,
  storedClaims,
  validatePublisherIdentity,
} from '../../src/trust/publisher-claims.ts';

const base = { id: 1, projectId: 1, projectName: 'demo', pending: false, createdAt: '2025-01-01T00:00:00Z', environment: null };
const github: TrustedPublisher = { ...base, kind: 'github', issuer: GITHUB_OIDC_ISSUER, repository: 'Octo/Demo', workflow: 'release.yml' };
const gitlab: TrustedPublisher = { ...base, kind: 'gitlab', issuer: GITLAB_OIDC_ISSUER, repository: 'grp/demo', workflow: '.gitlab-ci.yml' };
const google: TrustedPublisher = { ...base, kind: 'google', issuer: GOOGLE_OIDC_ISSUER, repository: 'ci@proj.iam.gserviceaccount.com', workflow: '' };

const githubClaims = {
  sub: 'repo:octo/demo:ref:refs/tags/v1',
  repository: 'octo/demo',
  workflow_ref: 'octo/demo/.github/workflows/release.yml@refs/tags/v1',
  job_workflow_ref: 'octo/demo/.github/workflows/release.yml@refs/tags/v1',
  ref: 'refs/tags/v1',
  sha: 'c'.repeat(40),
};
const gitlabClaims = {
  sub: 'project_path:grp/demo:ref_type:tag:ref:v1',
  project_path: 'grp/demo',
  ci_config_ref_uri: 'gitlab.com/grp/demo//.gitlab-ci.yml@refs/tags/v1',
  ref_path: 'refs/tags/v1',
  sha: 'd'.repeat(40),
};

describe('publisherClaimMismatch', () => {
  const cases: [string, TrustedPublisher, string, Record<string, unknown>, RegExp | null][] = [
    ['github ok (case-insensitive repository)', github, GITHUB_OIDC_ISSUER, githubClaims, null],
    ['github: workflow at the sha', github, GITHUB_OIDC_ISSUER, { ...githubClaims, workflow_ref: `octo/demo/.github/workflows/release.yml@${'c'.repeat(40)}` }, null],
    ['github: other issuer', github, GITLAB_OIDC_ISSUER, githubClaims, /issuer/],
    ['github: reusable workflow named in job_workflow_ref only', github, GITHUB_OIDC_ISSUER, { ...githubClaims, job_workflow_ref: 'x/y/.github/workflows/b.yml@v1' }, null],
    ['github: workflow named only in job_workflow_ref', github, GITHUB_OIDC_ISSUER, { ...githubClaims, workflow_ref: 'octo/demo/.github/workflows/ci.yml@refs/tags/v1' }, /workflow/],
    ['github: workflow file with @ tricks', github, GITHUB_OIDC_ISSUER, { ...githubClaims, workflow_ref: 'octo/demo/.github/workflows/release.yml@x.yml@refs/tags/v1' }, /workflow|ref/],
    ['github: no ref nor sha', github, GITHUB_OIDC_ISSUER, { ...githubClaims, ref: '', sha: '' }, /ref/],
    ['github: environment required', { ...github, environment: 'pypi' }, GITHUB_OIDC_ISSUER, githubClaims, /environment/],
    ['github: environment case-insensitive', { ...github, environment: 'pypi' }, GITHUB_OIDC_ISSUER, { ...githubClaims, environment: 'PyPI' }, null],
    ['gitlab ok', gitlab, GITLAB_OIDC_ISSUER, gitlabClaims, null],
    ['gitlab: other project', gitlab, GITLAB_OIDC_ISSUER, { ...gitlabClaims, project_path: 'grp/other' }, /project_path/],
    ['gitlab: file in another project', gitlab, GITLAB_OIDC_ISSUER, { ...gitlabClaims, ci_config_ref_uri: 'gitlab.com/evil/x//.gitlab-ci.yml@refs/tags/v1' }, /ci_config_ref_uri/],
    ['gitlab: environment case-sensitive', { ...gitlab, environment: 'Prod' }, GITLAB_OIDC_ISSUER, { ...gitlabClaims, environment: 'prod' }, /environment/],
    ['google ok', google, GOOGLE_OIDC_ISSUER, { email: google.repository, email_verified: true, sub: '123' }, null],
    ['google: unverified email', google, GOOGLE_OIDC_ISSUER, { email: google.repository, email_verified: false }, /verified/],
    ['google: sub pinned', { ...google, workflow: '999' }, GOOGLE_OIDC_ISSUER, { email: google.repository, email_verified: true, sub: '123' }, /sub/],
  ];
  for (const [label, publisher, issuer, claims, expected] of cases) {
    test(label, () => {
      const why = publisherClaimMismatch(publisher, issuer, claims);
      if (expected === null) assert.equal(why, null);
      else assert.match(why ?? '(matched)', expected);
    });
  }
});

test('repositoryKey treats URLs, case and .git alike', () => {
  assert.equal(repositoryKey('https://github.com/Octo/Demo.git'), 'octo/demo');
  assert.equal(repositoryKey('Octo/Demo/'), 'octo/demo');
});

describe('signerMismatch (publish attestations)', () => {
  const facts = {
    issuer: GITLAB_OIDC_ISSUER,
    identity: 'https://gitlab.com/grp/demo//.gitlab-ci.yml@refs/tags/v1',
    sourceRepositoryUri: 'https://gitlab.com/grp/demo',
    buildConfigUri: 'https://gitlab.com/grp/demo//.gitlab-ci.yml@refs/tags/v1',
  } as AttestationFacts;
  test('GitLab signer matches its publisher', () => assert.equal(signerMismatch(gitlab, facts), null));
  test('GitLab signer with another CI file', () =>
    assert.match(signerMismatch(gitlab, { ...facts, buildConfigUri: 'https://gitlab.com/grp/demo//other.yml@refs/tags/v1' }) ?? '', /workflow/));
  test('Google signer is the service account', () => {
    assert.equal(signerMismatch(google, { ...facts, issuer: GOOGLE_OIDC_ISSUER, identity: google.repository }), null);
    assert.match(signerMismatch(google, { ...facts, issuer: GOOGLE_OIDC_ISSUER, identity: 'x@y' }) ?? '', /signer/);
  });
});

describe('issue 11: what a refusal may say, and which late attestations are the project\'s own', () => {
  test('mismatchedClaim names the first failing claim and nothing of the publisher', () => {
    assert.equal(mismatchedClaim(github, GITHUB_OIDC_ISSUER, githubClaims), null);
    assert.equal(mismatchedClaim(github, GITHUB_OIDC_ISSUER, { ...githubClaims, repository: 'evil/demo' }), 'repository');
    assert.equal(mismatchedClaim(github, GITHUB_OIDC_ISSUER, { ...githubClaims, sub: 'repo:evil/demo:ref:refs/tags/v1' }), 'sub');
    assert.equal(mismatchedClaim(github, GITHUB_OIDC_ISSUER, { ...githubClaims, workflow_ref: 'octo/demo/.github/workflows/ci.yml@refs/tags/v1' }), 'workflow_ref');
    assert.equal(mismatchedClaim({ ...github, environment: 'pypi' }, GITHUB_OIDC_ISSUER, githubClaims), 'environment');
    assert.equal(mismatchedClaim(github, GITLAB_OIDC_ISSUER, githubClaims), 'iss');
    assert.equal(mismatchedClaim(google, GOOGLE_OIDC_ISSUER, { email: 'x@y', email_verified: true }), 'email');
    assert.equal(repositoryClaimFor(GITLAB_OIDC_ISSUER), 'project_path');
    assert.equal(repositoryClaimFor('https://dev.example/oidc'), 'repository');
  });

  test('signedFromPublisherRepository: same issuer and certified repository, any workflow', () => {
    const built = { issuer: GITHUB_OIDC_ISSUER, identity: 'https://github.com/org/builder/.github/workflows/b.yml@refs/tags/v1', sourceRepositoryUri: 'https://github.com/octo/demo' } as AttestationFacts;
    assert.equal(signedFromPublisherRepository(github, built), true);
    assert.equal(signedFromPublisherRepository(github, { ...built, sourceRepositoryUri: 'https://github.com/octo/demo-fork' }), false);
    assert.equal(signedFromPublisherRepository(github, { ...built, sourceRepositoryUri: null }), false);
    assert.equal(signedFromPublisherRepository(github, { ...built, issuer: GITLAB_OIDC_ISSUER }), false);
    assert.equal(signedFromPublisherRepository(google, { ...built, issuer: GOOGLE_OIDC_ISSUER, identity: google.repository }), true);
  });
});

describe('claim rules are data', () => {
  test('every rule of a table is applied in order; the first failure says why', () => {
    const dev = { ...github, kind: 'dev' as const };
    // The dev kind takes GitHub's rules without `sub`, whose shape only GitHub promises.
    assert.equal(claimRulesMismatch(CLAIM_RULES.dev, dev, { ...githubClaims, sub: 'anything' }), null);
    assert.match(claimRulesMismatch(CLAIM_RULES.github, github, { ...githubClaims, sub: 'anything' }) ?? '', /^sub 'anything' does not name repository/);
    assert.match(claimRulesMismatch(CLAIM_RULES.github, github, { ...githubClaims, repository: 'evil/demo', sub: 'x' }) ?? '', /^repository 'evil\/demo'/);
  });

  test('a Google publisher with no sub pinned accepts any sub; a pinned one needs the claim', () => {
    assert.equal(claimRulesMismatch(CLAIM_RULES.google, google, { email: google.repository, email_verified: true }), null);
    assert.match(claimRulesMismatch(CLAIM_RULES.google, { ...google, workflow: '42' }, { email: google.repository, email_verified: true }) ?? '', /no sub claim/);
  });

  test('GitLab needs both ref_path and sha', () => {
    assert.match(claimRulesMismatch(CLAIM_RULES.gitlab, gitlab, { ...gitlabClaims, sha: undefined }) ?? '', /lacks the ref_path or sha claim/);
  });

  test('stored claims per kind, as PyPI keeps them', () => {
    assert.deepEqual(storedClaims('github', githubClaims), { ref: 'refs/tags/v1', sha: 'c'.repeat(40) });
    assert.deepEqual(storedClaims('gitlab', gitlabClaims), { ref_path: 'refs/tags/v1', sha: 'd'.repeat(40) });
    assert.deepEqual(storedClaims('google', { sub: '1' }), {});
  });

  test('registration shapes per kind', () => {
    const ok: [Parameters<typeof validatePublisherIdentity>[0], string, string][] = [
      ['github', 'octo/demo', 'release.yml'],
      ['dev', 'https://git.example/octo/demo', 'release.yaml'],
      ['gitlab', 'grp/sub/demo', 'ci/release.yml'],
      ['google', 'ci@proj.iam.gserviceaccount.com', ''],
    ];
    for (const [kind, repository, workflow] of ok) validatePublisherIdentity(kind, repository, workflow);
    const bad: [Parameters<typeof validatePublisherIdentity>[0], string, string, RegExp][] = [
      ['github', 'https://github.com/octo/demo', 'release.yml', /repository is OWNER\/REPO/],
      ['github', 'octo/demo', '.github/workflows/release.yml', /no directory/],
      ['gitlab', 'demo', '.gitlab-ci.yml', /NAMESPACE\/PROJECT/],
      ['gitlab', 'grp/demo', '/.gitlab-ci.yml', /CI file path/],
      ['gitlab', 'grp/demo', 'ci@x.yml', /CI file path/],
      ['google', 'not-an-email', '', /service account email/],
    ];
    for (const [kind, repository, workflow, message] of bad) {
      assert.throws(() => validatePublisherIdentity(kind, repository, workflow), (e: Error & { code?: string }) => e.code === 'usage.invalid_argument' && message.test(e.message));
    }
  });
});
