import { CairnError } from '../errors.ts';
import type { AttestationFacts } from '../formats/provenance-object.ts';

/**
 * Trusted Publishing's identity rules (PyPI "Trusted Publishing"), pure: which OIDC claims, and
 * which Fulcio certificate, belong to a registered publisher. Each provider's rules are a table
 * of data, as Warehouse keeps its claim rules in oidc/models; one small matcher applies a table.
 *
 * One deliberate difference from Warehouse: a GitHub-style publisher's workflow is matched against
 * the caller's `workflow_ref` (the user-controlled publishing workflow), not `job_workflow_ref`,
 * so a publishing workflow that calls a reusable builder still matches its own publisher
 * (pypi/warehouse#11096).
 */

export type PublisherKind = 'github' | 'gitlab' | 'google' | 'dev';

export const PUBLISHER_KINDS: readonly PublisherKind[] = ['github', 'gitlab', 'google', 'dev'];

export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com';
export const GITLAB_OIDC_ISSUER = 'https://gitlab.com';
export const GOOGLE_OIDC_ISSUER = 'https://accounts.google.com';

/** What a registered publisher says about the CI identity it trusts. */
export interface PublisherIdentity {
  kind: PublisherKind;
  issuer: string;
  /** GitHub/dev `owner/repo`; GitLab `namespace/project`; Google: the service account email. */
  repository: string;
  /** GitHub/dev workflow file name; GitLab CI file path; Google: the required `sub` ('' for any). */
  workflow: string;
  environment: string | null;
}

/** OIDC claims as verified by the exchange (JSON values). */
export type OidcClaims = Readonly<Record<string, unknown>>;

export function kindForIssuer(issuer: string): PublisherKind {
  if (issuer === GITHUB_OIDC_ISSUER) return 'github';
  if (issuer === GITLAB_OIDC_ISSUER) return 'gitlab';
  if (issuer === GOOGLE_OIDC_ISSUER) return 'google';
  return 'dev';
}

/**
 * Repository identity for comparison: case-insensitive (GitHub and GitLab slugs are), a URL and its
 * `owner/repo` path name the same repository, and a trailing `.git` or `/` is noise.
 */
export function repositoryKey(repository: string): string {
  return repository
    .trim()
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+\//, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '');
}

// ---------------------------------------------------------------------------------------------
// Registration: what each kind's `repository` and `workflow` must look like

interface FieldRule {
  /** The value must match one of these. */
  patterns: readonly RegExp[];
  message: string;
}

const WORKFLOW_FILE = /^[^/@\s]+\.(yml|yaml)$/;
const OWNER_REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const REPOSITORY_URL = /^https?:\/\/\S+$/;
/** A path inside the repository: not absolute, no `@` (it would split the ref off ci_config_ref_uri). */
const GITLAB_CI_PATH = /^(?!\/)[^@\s]*[^/@\s]\.(yml|yaml)$/;
const GITLAB_PROJECT_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

const REGISTRATION_RULES: Readonly<Record<PublisherKind, { repository: FieldRule; workflow: FieldRule | null }>> = {
  github: {
    repository: { patterns: [OWNER_REPO], message: "a GitHub publisher's repository is OWNER/REPO" },
    workflow: { patterns: [WORKFLOW_FILE], message: "a GitHub publisher's workflow is a file name like release.yml (no directory)" },
  },
  dev: {
    repository: { patterns: [OWNER_REPO, REPOSITORY_URL], message: "a dev publisher's repository is OWNER/REPO or a repository URL" },
    workflow: { patterns: [WORKFLOW_FILE], message: "a dev publisher's workflow is a file name like release.yml (no directory)" },
  },
  gitlab: {
    repository: { patterns: [GITLAB_PROJECT_PATH], message: "a GitLab publisher's repository is NAMESPACE/PROJECT" },
    workflow: { patterns: [GITLAB_CI_PATH], message: "a GitLab publisher's workflow is the CI file path inside the repository, like .gitlab-ci.yml" },
  },
  google: {
    repository: { patterns: [EMAIL], message: "a Google publisher's repository is the service account email" },
    // The optional `sub` pin is an opaque account id.
    workflow: null,
  },
};

/** Throws `usage.invalid_argument` unless `repository` and `workflow` have the shape `kind` needs. */
export function validatePublisherIdentity(kind: PublisherKind, repository: string, workflow: string): void {
  const rules = REGISTRATION_RULES[kind];
  for (const [value, rule] of [[repository, rules.repository], [workflow, rules.workflow]] as const) {
    if (rule && !rule.patterns.some((p) => p.test(value))) {
      throw new CairnError('usage.invalid_argument', `${rule.message}, got '${value}'`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Token claims: one table of rules per provider

/** How a claim is compared with the publisher's value. */
export type ClaimComparison = 'exact' | 'case-insensitive' | 'repository';

export type ClaimRule =
  /** The claim must be present and equal the publisher's field. */
  | { rule: 'equals'; claim: string; field: 'repository' | 'workflow'; compare: ClaimComparison; anyWhenFieldEmpty?: boolean }
  /** The claim must be JSON `true`. */
  | { rule: 'is-true'; claim: string; message: string }
  /** `sub` must be `PREFIX:<publisher repository>[:…]` (Warehouse checks `sub` as well as the plain claim). */
  | { rule: 'sub-names'; prefix: string; noun: string }
  /**
   * GitHub's `workflow_ref`, `OWNER/REPO/.github/workflows/FILE@REF`: in the token's own
   * repository, the publisher's workflow file, at the run's ref or sha.
   */
  | { rule: 'github-workflow-ref'; claim: string; repositoryClaim: string; refClaims: readonly string[] }
  /**
   * GitLab's `ci_config_ref_uri`, `HOST/NAMESPACE/PROJECT//PATH/FILE.yml@REF_PATH`: on the
   * issuer's host, in the publisher's project, the publisher's CI file, at the pipeline's ref or sha.
   */
  | { rule: 'gitlab-ci-config-ref'; claim: string; refClaims: readonly string[] }
  /** When the publisher names an environment, the token must carry it. */
  | { rule: 'environment'; compare: 'exact' | 'case-insensitive' };

const GITHUB_STYLE: readonly ClaimRule[] = [
  { rule: 'equals', claim: 'repository', field: 'repository', compare: 'repository' },
  { rule: 'github-workflow-ref', claim: 'workflow_ref', repositoryClaim: 'repository', refClaims: ['ref', 'sha'] },
  { rule: 'environment', compare: 'case-insensitive' },
];

/**
 * The claim rules of each publisher kind. `dev` (any other issuer, such as cairn's dev trust
 * domain) takes GitHub's rules except `sub`, whose shape only GitHub promises.
 */
export const CLAIM_RULES: Readonly<Record<PublisherKind, readonly ClaimRule[]>> = {
  github: [GITHUB_STYLE[0]!, { rule: 'sub-names', prefix: 'repo', noun: 'repository' }, ...GITHUB_STYLE.slice(1)],
  dev: GITHUB_STYLE,
  gitlab: [
    { rule: 'equals', claim: 'project_path', field: 'repository', compare: 'case-insensitive' },
    { rule: 'sub-names', prefix: 'project_path', noun: 'project' },
    { rule: 'gitlab-ci-config-ref', claim: 'ci_config_ref_uri', refClaims: ['ref_path', 'sha'] },
    // GitLab environment names are case-sensitive; GitHub's are not.
    { rule: 'environment', compare: 'exact' },
  ],
  google: [
    { rule: 'equals', claim: 'email', field: 'repository', compare: 'exact' },
    { rule: 'is-true', claim: 'email_verified', message: "the token's email is not verified" },
    { rule: 'equals', claim: 'sub', field: 'workflow', compare: 'exact', anyWhenFieldEmpty: true },
  ],
};

/** The claims PyPI keeps with a publisher in PEP 740 provenance (`stored_claims`). */
export const STORED_CLAIMS: Readonly<Record<PublisherKind, readonly string[]>> = {
  github: ['ref', 'sha'],
  dev: ['ref', 'sha'],
  gitlab: ['ref_path', 'sha'],
  google: [],
};

function claimString(claims: OidcClaims, name: string): string | null {
  const value = claims[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

function same(a: string, b: string, compare: ClaimComparison): boolean {
  if (compare === 'repository') return repositoryKey(a) === repositoryKey(b);
  return compare === 'case-insensitive' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/** The workflow file of a `workflow_ref`: `OWNER/REPO/.github/workflows/FILE@REF` (Warehouse's rule: a .yml/.yaml name before `@`). */
function parseWorkflowRef(workflowRef: string): { repository: string; file: string; ref: string } | null {
  const marker = '/.github/workflows/';
  const at = workflowRef.indexOf(marker);
  if (at <= 0) return null;
  const rest = workflowRef.slice(at + marker.length);
  const match = /^([^/]+\.(?:yml|yaml))@(.+)$/.exec(rest);
  if (!match) return null;
  return { repository: workflowRef.slice(0, at), file: match[1] ?? '', ref: match[2] ?? '' };
}

function githubWorkflowRefMismatch(rule: Extract<ClaimRule, { rule: 'github-workflow-ref' }>, publisher: PublisherIdentity, claims: OidcClaims): string | null {
  const workflowRef = claimString(claims, rule.claim);
  if (!workflowRef) return `the token has no ${rule.claim} claim`;
  const parsed = parseWorkflowRef(workflowRef);
  if (!parsed) return `${rule.claim} '${workflowRef}' is not OWNER/REPO/.github/workflows/FILE@REF`;
  const repository = claimString(claims, rule.repositoryClaim) ?? '';
  if (repositoryKey(parsed.repository) !== repositoryKey(repository)) {
    return `${rule.claim} '${workflowRef}' runs in another repository than '${repository}'`;
  }
  if (parsed.file !== publisher.workflow) return `workflow '${parsed.file}' is not the publisher's '${publisher.workflow}'`;
  // The ref after `@` must be the run's own ref or sha, as Warehouse requires of job_workflow_ref.
  const refs = rule.refClaims.map((name) => claimString(claims, name)).filter((r): r is string => r !== null);
  if (refs.length === 0) return 'the token has neither a ref nor a sha claim';
  if (!refs.includes(parsed.ref)) return `${rule.claim} '${workflowRef}' is not at the run's ref or sha (${refs.join(', ')})`;
  return null;
}

function gitlabCiConfigRefMismatch(rule: Extract<ClaimRule, { rule: 'gitlab-ci-config-ref' }>, publisher: PublisherIdentity, claims: OidcClaims): string | null {
  const uri = claimString(claims, rule.claim);
  if (!uri) return `the token has no ${rule.claim} claim`;
  const split = uri.indexOf('//');
  const at = uri.lastIndexOf('@');
  if (split < 0 || at < split) return `${rule.claim} '${uri}' is not HOST/PROJECT//FILE@REF`;
  const host = new URL(publisher.issuer).host.toLowerCase();
  if (uri.slice(0, split).toLowerCase() !== `${host}/${publisher.repository.toLowerCase()}`) {
    return `${rule.claim} '${uri}' is not in ${host}/${publisher.repository}`;
  }
  const file = uri.slice(split + 2, at);
  if (file !== publisher.workflow) return `CI file '${file}' is not the publisher's '${publisher.workflow}'`;
  const refs = rule.refClaims.map((name) => claimString(claims, name));
  if (refs.some((r) => r === null)) return `the token lacks the ${rule.refClaims.join(' or ')} claim`;
  if (!refs.includes(uri.slice(at + 1))) return `${rule.claim} '${uri}' is not at the pipeline's ${rule.refClaims.join(' or ')}`;
  return null;
}

function ruleMismatch(rule: ClaimRule, publisher: PublisherIdentity, claims: OidcClaims): string | null {
  switch (rule.rule) {
    case 'equals': {
      const expected = publisher[rule.field];
      if (rule.anyWhenFieldEmpty && expected === '') return null;
      const value = claimString(claims, rule.claim);
      if (!value) return `the token has no ${rule.claim} claim`;
      return same(value, expected, rule.compare) ? null : `${rule.claim} '${value}' is not the publisher's '${expected}'`;
    }
    case 'is-true':
      return claims[rule.claim] === true ? null : rule.message;
    case 'sub-names': {
      const sub = claimString(claims, 'sub') ?? '';
      const [prefix, named] = sub.split(':');
      if (prefix !== rule.prefix || !named || named.toLowerCase() !== publisher.repository.toLowerCase()) {
        return `sub '${sub}' does not name ${rule.noun} ${publisher.repository}`;
      }
      return null;
    }
    case 'github-workflow-ref':
      return githubWorkflowRefMismatch(rule, publisher, claims);
    case 'gitlab-ci-config-ref':
      return gitlabCiConfigRefMismatch(rule, publisher, claims);
    case 'environment': {
      if (!publisher.environment) return null;
      const claimed = claimString(claims, 'environment');
      if (!claimed) return `the publisher requires environment '${publisher.environment}' and the token carries none`;
      return same(claimed, publisher.environment, rule.compare) ? null : `environment '${claimed}' is not the publisher's '${publisher.environment}'`;
    }
  }
}

/** Applies a table of claim rules in order; the first rule that fails says why. */
export function claimRulesMismatch(rules: readonly ClaimRule[], publisher: PublisherIdentity, claims: OidcClaims): string | null {
  for (const rule of rules) {
    const why = ruleMismatch(rule, publisher, claims);
    if (why !== null) return why;
  }
  return null;
}

/** Null when the verified claims come from this publisher's CI identity, else why not. */
export function publisherClaimMismatch(publisher: PublisherIdentity, issuer: string, claims: OidcClaims): string | null {
  if (issuer !== publisher.issuer) return `issuer '${issuer}' is not the publisher's '${publisher.issuer}'`;
  return claimRulesMismatch(CLAIM_RULES[publisher.kind], publisher, claims);
}

/**
 * Which claim of the token failed this publisher's rules, in general terms that name the token's
 * claim and nothing of the publisher (its project, repository, workflow or environment): what a
 * refusal may tell anyone holding a token from the same issuer (issue 11). Null when it matches.
 */
export function mismatchedClaim(publisher: PublisherIdentity, issuer: string, claims: OidcClaims): string | null {
  if (issuer !== publisher.issuer) return 'iss';
  for (const rule of CLAIM_RULES[publisher.kind]) {
    if (ruleMismatch(rule, publisher, claims) === null) continue;
    switch (rule.rule) {
      case 'sub-names':
        return 'sub';
      case 'environment':
        return 'environment';
      default:
        return rule.claim;
    }
  }
  return null;
}

/** The claim naming the repository (or account) for tokens of this issuer: its kind's first rule. */
export function repositoryClaimFor(issuer: string): string {
  const first = CLAIM_RULES[kindForIssuer(issuer)][0];
  return first && 'claim' in first ? first.claim : 'sub';
}

/** The claims PyPI keeps with a publisher in PEP 740 provenance (`stored_claims`). */
export function storedClaims(kind: PublisherKind, claims: OidcClaims): Record<string, unknown> {
  return Object.fromEntries(STORED_CLAIMS[kind].map((name) => [name, claims[name] ?? null]));
}

/** PEP 740 publisher objects in the shapes pypi-attestations defines (kind GitHub/GitLab/Google). */
export function pep740Publisher(publisher: PublisherIdentity, claims: OidcClaims): Record<string, unknown> {
  const kept = storedClaims(publisher.kind, claims);
  switch (publisher.kind) {
    case 'github':
      return { kind: 'GitHub', repository: publisher.repository, workflow: publisher.workflow, environment: publisher.environment, claims: kept };
    case 'gitlab':
      return { kind: 'GitLab', repository: publisher.repository, workflow_filepath: publisher.workflow, environment: publisher.environment, claims: kept };
    case 'google':
      return { kind: 'Google', email: publisher.repository, claims: kept };
    case 'dev':
      // Not a PyPI kind: PEP 740 lets indexes define their own; clients that do not know it skip it.
      return {
        kind: 'cairn:dev',
        issuer: publisher.issuer,
        repository: publisher.repository,
        workflow: publisher.workflow,
        environment: publisher.environment,
        claims: kept,
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates: the signer of a PEP 740 publish attestation

/**
 * Whether a Fulcio certificate was issued to a CI run in this publisher's repository (any
 * workflow of it): the project's own repository vouching for a file, as certified by the CA,
 * which is what makes an attestation bound after the upload first-party (docs/decisions.md).
 */
export function signedFromPublisherRepository(publisher: PublisherIdentity, facts: AttestationFacts): boolean {
  if (facts.issuer !== publisher.issuer) return false;
  if (publisher.kind === 'google') return facts.identity === publisher.repository;
  return facts.sourceRepositoryUri !== null && repositoryKey(facts.sourceRepositoryUri) === repositoryKey(publisher.repository);
}

/**
 * Whether a Fulcio certificate was issued to this publisher's CI identity. The workflow is read
 * from the Build Config URI (the caller's workflow, like `workflow_ref`), not the SAN (which names
 * a reusable builder when one is called), consistently with how the token was matched.
 */
export function signerMismatch(publisher: PublisherIdentity, facts: AttestationFacts): string | null {
  if (facts.issuer !== publisher.issuer) return `signer issuer ${facts.issuer} is not the publisher's ${publisher.issuer}`;
  if (publisher.kind === 'google') {
    return facts.identity === publisher.repository ? null : `signer ${facts.identity} is not the publisher's ${publisher.repository}`;
  }
  if (!facts.sourceRepositoryUri) return 'the signing certificate names no source repository';
  if (repositoryKey(facts.sourceRepositoryUri) !== repositoryKey(publisher.repository)) {
    return `the signer's repository ${facts.sourceRepositoryUri} is not the publisher's ${publisher.repository}`;
  }
  const configUri = facts.buildConfigUri ?? facts.identity;
  const workflow =
    publisher.kind === 'gitlab'
      ? (/\/\/([^@]+)@[^@]*$/.exec(configUri.replace(/^[a-z]+:\/\//, ''))?.[1] ?? null)
      : (/\/\.github\/workflows\/([^/@]+)@/.exec(configUri)?.[1] ?? null);
  if (workflow !== publisher.workflow) {
    return `the signer's workflow ${workflow ?? `(none in ${configUri})`} is not the publisher's ${publisher.workflow}`;
  }
  return null;
}
