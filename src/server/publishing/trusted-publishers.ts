import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { assertValidProjectName, normalizeProjectName } from '../../formats/project-name.ts';
import type { Database, TrustedPublisherRow } from '../storage/schema.ts';

/**
 * Trusted publishers (PyPI "Trusted Publishing"): which CI identity may publish to which project.
 * The claim rules follow Warehouse's oidc/models, with one deliberate difference: a GitHub-style
 * publisher's workflow is matched against the caller's `workflow_ref` (the user-controlled
 * publishing workflow), not `job_workflow_ref`, so a publishing workflow that calls a reusable
 * builder still matches its own publisher (pypi/warehouse#11096).
 */

export type PublisherKind = 'github' | 'gitlab' | 'google' | 'dev';

export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com';
export const GITLAB_OIDC_ISSUER = 'https://gitlab.com';
export const GOOGLE_OIDC_ISSUER = 'https://accounts.google.com';

export interface TrustedPublisher {
  id: number;
  kind: PublisherKind;
  issuer: string;
  /** GitHub/dev `owner/repo`; GitLab `namespace/project`; Google: the service account email. */
  repository: string;
  /** GitHub/dev workflow file name; GitLab CI file path; Google: the required `sub` ('' for any). */
  workflow: string;
  environment: string | null;
  /** Null while pending: the publisher may create `projectName` with its first exchange. */
  projectId: number | null;
  /** The project's display name, or the pending name as the operator typed it. */
  projectName: string;
  pending: boolean;
  createdAt: string;
}

export interface NewTrustedPublisher {
  project: string;
  issuer: string;
  /** Inferred from the issuer when absent: unknown issuers get the GitHub-style `dev` rules. */
  kind?: PublisherKind | undefined;
  repository: string;
  workflow: string;
  environment?: string | null | undefined;
}

/** OIDC claims as verified by the exchange (JSON values). */
export type OidcClaims = Readonly<Record<string, unknown>>;

export function kindForIssuer(issuer: string): PublisherKind {
  if (issuer === GITHUB_OIDC_ISSUER) return 'github';
  if (issuer === GITLAB_OIDC_ISSUER) return 'gitlab';
  if (issuer === GOOGLE_OIDC_ISSUER) return 'google';
  return 'dev';
}

const WORKFLOW_FILE = /^[^/@\s]+\.(yml|yaml)$/;
const GITLAB_CI_PATH = /^[^@\s]*[^/@\s]\.(yml|yaml)$/;
const OWNER_REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const GITLAB_PROJECT_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

function validatePublisher(kind: PublisherKind, repository: string, workflow: string): void {
  const bad = (message: string) => new CairnError('usage.invalid_argument', message);
  if (kind === 'github') {
    if (!OWNER_REPO.test(repository)) throw bad(`a GitHub publisher's repository is OWNER/REPO, got '${repository}'`);
    if (!WORKFLOW_FILE.test(workflow)) throw bad(`a GitHub publisher's workflow is a file name like release.yml (no directory), got '${workflow}'`);
  } else if (kind === 'dev') {
    if (!OWNER_REPO.test(repository) && !/^https?:\/\/\S+$/.test(repository)) {
      throw bad(`a dev publisher's repository is OWNER/REPO or a repository URL, got '${repository}'`);
    }
    if (!WORKFLOW_FILE.test(workflow)) throw bad(`a dev publisher's workflow is a file name like release.yml (no directory), got '${workflow}'`);
  } else if (kind === 'gitlab') {
    if (!GITLAB_PROJECT_PATH.test(repository)) throw bad(`a GitLab publisher's repository is NAMESPACE/PROJECT, got '${repository}'`);
    if (!GITLAB_CI_PATH.test(workflow) || workflow.startsWith('/')) {
      throw bad(`a GitLab publisher's workflow is the CI file path inside the repository, like .gitlab-ci.yml, got '${workflow}'`);
    }
  } else if (!EMAIL.test(repository)) {
    throw bad(`a Google publisher's repository is the service account email, got '${repository}'`);
  }
}

function toPublisher(row: TrustedPublisherRow & { project_name: string | null }): TrustedPublisher {
  return {
    id: row.id,
    kind: row.kind,
    issuer: row.issuer,
    repository: row.repository,
    workflow: row.workflow,
    environment: row.environment,
    projectId: row.project_id,
    projectName: row.project_name ?? row.pending_project_name ?? '',
    pending: row.project_id === null,
    createdAt: row.created_at,
  };
}

function publishersQuery(db: Kysely<Database>) {
  return db
    .selectFrom('trusted_publishers')
    .leftJoin('projects', 'projects.id', 'trusted_publishers.project_id')
    .selectAll('trusted_publishers')
    .select('projects.name as project_name');
}

/**
 * Registers a publisher for an existing project, or a pending one when the project does not exist
 * yet (its first successful exchange creates the project, as PyPI's pending publishers do).
 */
export async function addTrustedPublisher(db: Kysely<Database>, input: NewTrustedPublisher, now: Date): Promise<TrustedPublisher> {
  assertValidProjectName(input.project);
  const issuer = input.issuer.trim();
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(issuer)) {
    throw new CairnError('usage.invalid_argument', `the issuer is the OIDC issuer URL (the tokens' iss), got '${input.issuer}'`);
  }
  const kind = input.kind ?? kindForIssuer(issuer);
  const repository = input.repository.trim();
  const workflow = input.workflow.trim();
  validatePublisher(kind, repository, workflow);
  const environment = input.environment?.trim() ? input.environment.trim() : null;
  const normalized = normalizeProjectName(input.project);
  const project = await db.selectFrom('projects').select(['id', 'name']).where('normalized_name', '=', normalized).executeTakeFirst();

  const existing = (await listTrustedPublishers(db, input.project)).find(
    (p) =>
      p.kind === kind &&
      p.issuer === issuer &&
      p.repository.toLowerCase() === repository.toLowerCase() &&
      p.workflow === workflow &&
      (p.environment ?? '').toLowerCase() === (environment ?? '').toLowerCase(),
  );
  if (existing) {
    throw new CairnError('usage.invalid_argument', `project ${input.project} already has this trusted publisher (id ${existing.id})`);
  }
  const row = await db
    .insertInto('trusted_publishers')
    .values({
      project_id: project?.id ?? null,
      pending_project_name: project ? null : input.project,
      kind,
      issuer,
      repository,
      workflow,
      environment,
      created_at: now.toISOString(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const added = await publishersQuery(db).where('trusted_publishers.id', '=', row.id).executeTakeFirstOrThrow();
  return toPublisher(added);
}

/** All publishers, or those of one project (including pending publishers for that name). */
export async function listTrustedPublishers(db: Kysely<Database>, project?: string): Promise<TrustedPublisher[]> {
  const rows = await publishersQuery(db).orderBy('trusted_publishers.id').execute();
  const publishers = rows.map(toPublisher);
  if (project === undefined) return publishers;
  const wanted = normalizeProjectName(project);
  return publishers.filter((p) => normalizeProjectName(p.projectName) === wanted);
}

/**
 * Removes a publisher. Tokens it minted are expired at once: removing a publisher is how an
 * operator cuts off a compromised workflow, so its 15-minute tokens must not outlive it.
 */
export async function removeTrustedPublisher(db: Kysely<Database>, id: number, now: Date): Promise<TrustedPublisher> {
  const row = await publishersQuery(db).where('trusted_publishers.id', '=', id).executeTakeFirst();
  if (!row) throw new CairnError('usage.invalid_argument', `no trusted publisher with id ${id}`);
  await db.transaction().execute(async (trx) => {
    const minted = await trx.selectFrom('publishing_tokens').select('token_id').where('publisher_id', '=', id).execute();
    const tokenIds = minted.map((m) => m.token_id);
    if (tokenIds.length > 0) {
      await trx.updateTable('api_tokens').set({ expires_at: now.toISOString() }).where('id', 'in', tokenIds).execute();
      await trx.deleteFrom('publishing_tokens').where('publisher_id', '=', id).execute();
    }
    await trx.deleteFrom('trusted_publishers').where('id', '=', id).execute();
  });
  return toPublisher(row);
}

// ---------------------------------------------------------------------------------------------
// Claim matching (pure functions of a publisher and verified claims)

function claimString(claims: OidcClaims, name: string): string | null {
  const value = claims[name];
  return typeof value === 'string' && value !== '' ? value : null;
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

function environmentMismatch(publisher: TrustedPublisher, claims: OidcClaims, caseSensitive: boolean): string | null {
  if (!publisher.environment) return null;
  const claimed = claimString(claims, 'environment');
  if (!claimed) return `the publisher requires environment '${publisher.environment}' and the token carries none`;
  const same = caseSensitive ? claimed === publisher.environment : claimed.toLowerCase() === publisher.environment.toLowerCase();
  return same ? null : `environment '${claimed}' is not the publisher's '${publisher.environment}'`;
}

function githubStyleMismatch(publisher: TrustedPublisher, claims: OidcClaims): string | null {
  const repository = claimString(claims, 'repository');
  if (!repository) return 'the token has no repository claim';
  if (repositoryKey(repository) !== repositoryKey(publisher.repository)) {
    return `repository '${repository}' is not the publisher's '${publisher.repository}'`;
  }
  if (publisher.kind === 'github') {
    // `sub` is `repo:OWNER/REPO[:…]`; Warehouse checks its repository part too.
    const sub = claimString(claims, 'sub') ?? '';
    const [prefix, subRepo] = sub.split(':');
    if (prefix !== 'repo' || !subRepo || subRepo.toLowerCase() !== publisher.repository.toLowerCase()) {
      return `sub '${sub}' does not name repository ${publisher.repository}`;
    }
  }
  const workflowRef = claimString(claims, 'workflow_ref');
  if (!workflowRef) return 'the token has no workflow_ref claim';
  const parsed = parseWorkflowRef(workflowRef);
  if (!parsed) return `workflow_ref '${workflowRef}' is not OWNER/REPO/.github/workflows/FILE@REF`;
  if (repositoryKey(parsed.repository) !== repositoryKey(repository)) {
    return `workflow_ref '${workflowRef}' runs in another repository than '${repository}'`;
  }
  if (parsed.file !== publisher.workflow) return `workflow '${parsed.file}' is not the publisher's '${publisher.workflow}'`;
  // The ref after `@` must be the run's own ref or sha, as Warehouse requires of job_workflow_ref.
  const refs = [claimString(claims, 'ref'), claimString(claims, 'sha')].filter((r): r is string => r !== null);
  if (refs.length === 0) return 'the token has neither a ref nor a sha claim';
  if (!refs.includes(parsed.ref)) return `workflow_ref '${workflowRef}' is not at the run's ref or sha (${refs.join(', ')})`;
  return environmentMismatch(publisher, claims, false);
}

function gitlabMismatch(publisher: TrustedPublisher, claims: OidcClaims): string | null {
  const projectPath = claimString(claims, 'project_path');
  if (!projectPath) return 'the token has no project_path claim';
  if (projectPath.toLowerCase() !== publisher.repository.toLowerCase()) {
    return `project_path '${projectPath}' is not the publisher's '${publisher.repository}'`;
  }
  const sub = claimString(claims, 'sub') ?? '';
  const [prefix, subPath] = sub.split(':');
  if (prefix !== 'project_path' || !subPath || subPath.toLowerCase() !== publisher.repository.toLowerCase()) {
    return `sub '${sub}' does not name project ${publisher.repository}`;
  }
  const uri = claimString(claims, 'ci_config_ref_uri');
  if (!uri) return 'the token has no ci_config_ref_uri claim';
  // HOST/NAMESPACE/PROJECT//PATH/FILE.yml@REF_PATH
  const split = uri.indexOf('//');
  const at = uri.lastIndexOf('@');
  if (split < 0 || at < split) return `ci_config_ref_uri '${uri}' is not HOST/PROJECT//FILE@REF`;
  const host = new URL(publisher.issuer).host.toLowerCase();
  if (uri.slice(0, split).toLowerCase() !== `${host}/${publisher.repository.toLowerCase()}`) {
    return `ci_config_ref_uri '${uri}' is not in ${host}/${publisher.repository}`;
  }
  const file = uri.slice(split + 2, at);
  if (file !== publisher.workflow) return `CI file '${file}' is not the publisher's '${publisher.workflow}'`;
  const refPath = claimString(claims, 'ref_path');
  const sha = claimString(claims, 'sha');
  if (!refPath || !sha) return 'the token lacks the ref_path or sha claim';
  const ref = uri.slice(at + 1);
  if (ref !== refPath && ref !== sha) return `ci_config_ref_uri '${uri}' is not at the pipeline's ref_path or sha`;
  return environmentMismatch(publisher, claims, true);
}

function googleMismatch(publisher: TrustedPublisher, claims: OidcClaims): string | null {
  const email = claimString(claims, 'email');
  if (!email) return 'the token has no email claim';
  if (claims.email_verified !== true) return 'the token\'s email is not verified';
  if (email !== publisher.repository) return `email '${email}' is not the publisher's '${publisher.repository}'`;
  if (publisher.workflow !== '' && claimString(claims, 'sub') !== publisher.workflow) {
    return `sub '${String(claims.sub)}' is not the publisher's '${publisher.workflow}'`;
  }
  return null;
}

/** Null when the verified claims come from this publisher's CI identity, else why not. */
export function publisherClaimMismatch(publisher: TrustedPublisher, issuer: string, claims: OidcClaims): string | null {
  if (issuer !== publisher.issuer) return `issuer '${issuer}' is not the publisher's '${publisher.issuer}'`;
  switch (publisher.kind) {
    case 'github':
    case 'dev':
      return githubStyleMismatch(publisher, claims);
    case 'gitlab':
      return gitlabMismatch(publisher, claims);
    case 'google':
      return googleMismatch(publisher, claims);
  }
}

/**
 * Every publisher the claims satisfy, environment-constrained ones first (Warehouse prefers the
 * most specific publisher), with the reasons the others were refused for the error message.
 */
export async function matchPublishers(
  db: Kysely<Database>,
  issuer: string,
  claims: OidcClaims,
): Promise<{ matches: TrustedPublisher[]; refusals: string[] }> {
  const rows = await publishersQuery(db).where('trusted_publishers.issuer', '=', issuer).orderBy('trusted_publishers.id').execute();
  const matches: TrustedPublisher[] = [];
  const refusals: string[] = [];
  for (const publisher of rows.map(toPublisher)) {
    const why = publisherClaimMismatch(publisher, issuer, claims);
    if (why === null) matches.push(publisher);
    else refusals.push(`publisher ${publisher.id} (${publisher.projectName}): ${why}`);
  }
  matches.sort((a, b) => Number(b.environment !== null) - Number(a.environment !== null));
  return { matches, refusals };
}

/** The claims PyPI keeps with a publisher in PEP 740 provenance (`stored_claims`). */
export function storedClaims(kind: PublisherKind, claims: OidcClaims): Record<string, unknown> {
  if (kind === 'gitlab') return { ref_path: claims.ref_path ?? null, sha: claims.sha ?? null };
  if (kind === 'google') return {};
  return { ref: claims.ref ?? null, sha: claims.sha ?? null };
}

export async function findTrustedPublisher(db: Kysely<Database>, id: number): Promise<TrustedPublisher | null> {
  const row = await publishersQuery(db).where('trusted_publishers.id', '=', id).executeTakeFirst();
  return row ? toPublisher(row) : null;
}
