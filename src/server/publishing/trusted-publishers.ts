import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { assertValidProjectName, normalizeProjectName } from '../../formats/project-name.ts';
import {
  kindForIssuer,
  mismatchedClaim,
  pep740Publisher,
  signedFromPublisherRepository,
  signerMismatch,
  validatePublisherIdentity,
  type OidcClaims,
  type PublisherIdentity,
  type PublisherKind,
} from '../../trust/publisher-claims.ts';
import type { AttestationFacts } from '../../formats/provenance-object.ts';
import type { TokenPrincipal } from '../auth/tokens.ts';
import { assertNotConfusable } from '../catalogue/project-names.ts';
import type { UploadPublisher } from '../provenance/upload-attestations.ts';
import type { Database, TrustedPublisherRow } from '../storage/schema.ts';

/**
 * Trusted publishers (PyPI "Trusted Publishing"): which CI identity may publish to which project.
 * This service owns the `trusted_publishers` table and the link from a minted token to its
 * publisher; the claim rules themselves are pure data in trust/publisher-claims.ts.
 */

export interface TrustedPublisher extends PublisherIdentity {
  id: number;
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

export class TrustedPublisherService {
  constructor(private readonly db: Kysely<Database>) {}

  private query(db: Kysely<Database> = this.db) {
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
  async add(input: NewTrustedPublisher, now: Date): Promise<TrustedPublisher> {
    assertValidProjectName(input.project);
    const issuer = input.issuer.trim();
    if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(issuer)) {
      throw new CairnError('usage.invalid_argument', `the issuer is the OIDC issuer URL (the tokens' iss), got '${input.issuer}'`);
    }
    const kind = input.kind ?? kindForIssuer(issuer);
    const repository = input.repository.trim();
    const workflow = input.workflow.trim();
    validatePublisherIdentity(kind, repository, workflow);
    const environment = input.environment?.trim() ? input.environment.trim() : null;
    const normalized = normalizeProjectName(input.project);
    const project = await this.db.selectFrom('projects').select(['id', 'name']).where('normalized_name', '=', normalized).executeTakeFirst();
    // A pending publisher will create its project: the name must not read like another project's.
    if (!project) await assertNotConfusable(this.db, input.project);

    const existing = (await this.list(input.project)).find(
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
    const row = await this.db
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
    const added = await this.query().where('trusted_publishers.id', '=', row.id).executeTakeFirstOrThrow();
    return toPublisher(added);
  }

  /** All publishers, or those of one project (including pending publishers for that name). */
  async list(project?: string): Promise<TrustedPublisher[]> {
    const rows = await this.query().orderBy('trusted_publishers.id').execute();
    const publishers = rows.map(toPublisher);
    if (project === undefined) return publishers;
    const wanted = normalizeProjectName(project);
    return publishers.filter((p) => normalizeProjectName(p.projectName) === wanted);
  }

  async find(id: number): Promise<TrustedPublisher | null> {
    const row = await this.query().where('trusted_publishers.id', '=', id).executeTakeFirst();
    return row ? toPublisher(row) : null;
  }

  /**
   * Removes a publisher. Tokens it minted are expired at once: removing a publisher is how an
   * operator cuts off a compromised workflow, so its 15-minute tokens must not outlive it.
   */
  async remove(id: number, now: Date): Promise<TrustedPublisher> {
    const row = await this.query().where('trusted_publishers.id', '=', id).executeTakeFirst();
    if (!row) throw new CairnError('usage.invalid_argument', `no trusted publisher with id ${id}`);
    await this.db.transaction().execute(async (trx) => {
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

  /**
   * Every publisher the claims satisfy, environment-constrained ones first (Warehouse prefers the
   * most specific publisher). For the refusal, only the names of the token's claims that failed
   * (`repository`, `workflow_ref`, …), never which publisher they failed against: anyone holding
   * a token from the issuer (any GitHub Actions job) may ask, and must learn nothing of the others.
   */
  async matching(issuer: string, claims: OidcClaims): Promise<{ matches: TrustedPublisher[]; mismatchedClaims: string[] }> {
    const rows = await this.query().where('trusted_publishers.issuer', '=', issuer).orderBy('trusted_publishers.id').execute();
    const matches: TrustedPublisher[] = [];
    const mismatched = new Set<string>();
    for (const publisher of rows.map(toPublisher)) {
      const claim = mismatchedClaim(publisher, issuer, claims);
      if (claim === null) matches.push(publisher);
      else mismatched.add(claim);
    }
    matches.sort((a, b) => Number(b.environment !== null) - Number(a.environment !== null));
    return { matches, mismatchedClaims: [...mismatched].sort() };
  }

  /**
   * Inside the exchange's transaction: a pending publisher creates its project with its first
   * exchange, as Warehouse's `reify` does; other pending publishers for that name are dropped (the
   * name is taken now). If someone created the project meanwhile, the pending publisher no longer
   * applies.
   */
  async reifyPending(trx: Kysely<Database>, matches: TrustedPublisher[], now: Date): Promise<TrustedPublisher[]> {
    const real = matches.filter((p) => !p.pending);
    if (real.length > 0) return real;
    const pending = matches[0] as TrustedPublisher;
    const normalized = normalizeProjectName(pending.projectName);
    const taken = await trx.selectFrom('projects').select('id').where('normalized_name', '=', normalized).executeTakeFirst();
    if (taken) {
      throw new CairnError(
        'oidc.no_matching_publisher',
        `the pending publisher ${pending.id} may only create project '${pending.projectName}', which already exists; ask an operator to add a publisher to it`,
      );
    }
    // A look-alike may have been created since the publisher was registered.
    await assertNotConfusable(trx, pending.projectName);
    const project = await trx
      .insertInto('projects')
      .values({ name: pending.projectName, normalized_name: normalized, created_at: now.toISOString(), serial: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    await trx
      .updateTable('trusted_publishers')
      .set({ project_id: project.id, pending_project_name: null })
      .where('id', '=', pending.id)
      .execute();
    const others = await trx
      .selectFrom('trusted_publishers')
      .select(['id', 'pending_project_name'])
      .where('project_id', 'is', null)
      .execute();
    const stale = others.filter((o) => o.pending_project_name !== null && normalizeProjectName(o.pending_project_name) === normalized);
    if (stale.length > 0) await trx.deleteFrom('trusted_publishers').where('id', 'in', stale.map((o) => o.id)).execute();
    return [{ ...pending, projectId: project.id, pending: false }];
  }

  /**
   * Whether a certificate was issued to a run in the repository of one of the project's trusted
   * publishers (pending ones excluded: they belong to no project yet). Such attestations are the
   * project's own even when they arrive after the upload (docs/decisions.md, "first-party").
   */
  async projectVouches(trx: Kysely<Database>, projectId: number, facts: AttestationFacts): Promise<boolean> {
    const rows = await this.query(trx).where('trusted_publishers.project_id', '=', projectId).execute();
    return rows.map(toPublisher).some((p) => signedFromPublisherRepository(p, facts));
  }

  /**
   * The trusted publisher behind an upload, for PEP 740 publish attestations: they must be signed
   * by the same CI identity that earned the upload token.
   */
  async publisherForPrincipal(principal: TokenPrincipal): Promise<UploadPublisher | null> {
    if (principal.scope !== 'publishing') return null;
    const link = await this.db.selectFrom('publishing_tokens').selectAll().where('token_id', '=', principal.tokenId).executeTakeFirst();
    if (!link) return null;
    const publisher = await this.find(link.publisher_id);
    if (!publisher) return null;
    const claims = JSON.parse(link.claims_json) as OidcClaims;
    return {
      publisher: pep740Publisher(publisher, claims),
      mismatch: (facts) => signerMismatch(publisher, facts),
    };
  }
}
