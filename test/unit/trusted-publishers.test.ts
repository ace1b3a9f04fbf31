import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttestationFacts } from '../../src/formats/provenance-object.ts';
import {
  GITHUB_OIDC_ISSUER,
  GITLAB_OIDC_ISSUER,
  GOOGLE_OIDC_ISSUER,
  publisherClaimMismatch,
  repositoryKey,
  type TrustedPublisher,
} from '../../src/server/publishing/trusted-publishers.ts';
import { signerMismatch } from '../../src/server/publishing/upload-publisher.ts';

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
