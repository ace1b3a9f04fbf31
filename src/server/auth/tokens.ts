import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import type { Database } from '../storage/schema.ts';

export type TokenScope = 'projects' | 'new_projects' | 'publishing';

/** Who an upload request speaks for, after the token was checked. */
export interface TokenPrincipal {
  tokenId: number;
  scope: TokenScope;
  /** Normalised names the token is scoped to (empty for `new_projects`). */
  projects: ReadonlySet<string>;
}

const TOKEN_PREFIX = 'cairn-';

function tokenUsed(usedAt: string): CairnError {
  return new CairnError('auth.token_used', `Invalid or non-existent authentication information. This single-use Trusted Publishing token was used for an upload at ${usedAt}; mint a new token for each upload`);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface NewApiToken {
  scope: TokenScope;
  projects?: string[];
  description?: string;
  expiresAt?: Date | null;
  now: Date;
}

/** What an operator sees of a token: never the token itself, nor its hash. */
export interface ApiTokenInfo {
  id: number;
  scope: TokenScope;
  /** Normalised names a `projects` or `publishing` token is scoped to. */
  projects: string[];
  description: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** When it last authenticated an upload; null if never. */
  lastUsedAt: string | null;
  state: 'active' | 'expired' | 'revoked';
}

/** API tokens: the `api_tokens` and `token_projects` tables, and upload authentication. */
export class TokenService {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Writes a token inside the caller's transaction (the OIDC exchange mints one atomically with its
   * replay record) and returns its only plaintext copy; the database keeps a hash.
   */
  async insertWithin(trx: Kysely<Database>, options: NewApiToken): Promise<{ token: string; tokenId: number }> {
    const projects = (options.projects ?? []).map(normalizeProjectName);
    if (options.scope !== 'new_projects' && projects.length === 0) {
      throw new CairnError('usage.invalid_argument', 'a project-scoped token needs at least one project name');
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row = await trx
      .insertInto('api_tokens')
      .values({
        token_hash: hashToken(token),
        description: options.description ?? '',
        scope: options.scope,
        created_at: options.now.toISOString(),
        expires_at: options.expiresAt ? options.expiresAt.toISOString() : null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const name of new Set<string>(projects)) {
      await trx.insertInto('token_projects').values({ token_id: row.id, normalized_name: name }).execute();
    }
    return { token, tokenId: row.id };
  }

  /** Creates a token and returns its only plaintext copy; the database keeps a hash. */
  async create(options: NewApiToken): Promise<{ token: string; tokenId: number }> {
    return this.db.transaction().execute((trx) => this.insertWithin(trx, options));
  }


  /**
   * Tokens in creation order. Tokens minted by trusted publishing live 15 minutes, so they are
   * listed only while active unless `includeEndedPublishing` asks for all of them.
   */
  async list(now: Date, options: { includeEndedPublishing?: boolean } = {}): Promise<ApiTokenInfo[]> {
    const tokens = await this.readTokenInfo(now);
    return tokens.filter((t) => t.scope !== 'publishing' || t.state === 'active' || options.includeEndedPublishing === true);
  }

  /** Tokens as operators see them: all of them, or the one with `id`. */
  private async readTokenInfo(now: Date, id?: number): Promise<ApiTokenInfo[]> {
    let tokens = this.db.selectFrom('api_tokens').select(['id', 'scope', 'description', 'created_at', 'expires_at', 'revoked_at', 'last_used_at']).orderBy('id');
    let scopes = this.db.selectFrom('token_projects').select(['token_id', 'normalized_name']).orderBy('normalized_name');
    if (id !== undefined) {
      tokens = tokens.where('id', '=', id);
      scopes = scopes.where('token_id', '=', id);
    }
    const [rows, scoped] = await Promise.all([tokens.execute(), scopes.execute()]);
    const projectsOf = new Map<number, string[]>();
    for (const r of scoped) projectsOf.set(r.token_id, [...(projectsOf.get(r.token_id) ?? []), r.normalized_name]);
    const at = now.toISOString();
    return rows.map((row) => ({
      id: row.id,
      scope: row.scope as TokenScope,
      projects: projectsOf.get(row.id) ?? [],
      description: row.description,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      revokedAt: row.revoked_at,
      lastUsedAt: row.last_used_at,
      state: row.revoked_at !== null ? 'revoked' : row.expires_at !== null && row.expires_at <= at ? 'expired' : 'active',
    }));
  }

  /**
   * Revokes a token at once: uploads with it are refused from the next request on. The row stays,
   * so the projects it created keep their owner record; revoking twice keeps the first time.
   */
  async revoke(id: number, now: Date): Promise<ApiTokenInfo> {
    await this.db.updateTable('api_tokens').set({ revoked_at: now.toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).execute();
    const [info] = await this.readTokenInfo(now, id);
    if (!info) throw new CairnError('token.not_found', `no API token with id ${id} (cairn admin token list shows them)`);
    return info;
  }

  /**
   * Reads HTTP Basic credentials as PyPI does (`__token__` user, token as password) and resolves the
   * token. Only a hash is looked up, so a database leak does not leak usable tokens.
   */
  async authenticateUpload(authorization: string | undefined, now: Date): Promise<TokenPrincipal> {
    if (!authorization) {
      throw new CairnError('auth.missing', 'Invalid or non-existent authentication information. Upload with an API token: username __token__, password the token');
    }
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
    if (!match) throw new CairnError('auth.missing', 'Invalid or non-existent authentication information. Use HTTP Basic authentication with username __token__');
    const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    if (user !== '__token__') {
      throw new CairnError('auth.invalid_token', 'Invalid or non-existent authentication information. cairn accepts API tokens only: username must be __token__');
    }
    if (!password.startsWith(TOKEN_PREFIX)) {
      throw new CairnError('auth.invalid_token', 'Invalid or non-existent authentication information. The password is not a cairn API token');
    }
    const hash = hashToken(password);
    const row = await this.db.selectFrom('api_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash))) {
      throw new CairnError('auth.invalid_token', 'Invalid or non-existent authentication information. The API token is not known to this index');
    }
    if (row.revoked_at !== null) {
      throw new CairnError('auth.invalid_token', 'Invalid or non-existent authentication information. The API token has been revoked');
    }
    if (row.expires_at !== null && row.expires_at <= now.toISOString()) {
      throw new CairnError('auth.invalid_token', 'Invalid or non-existent authentication information. The API token has expired');
    }
    if (row.scope === 'publishing') {
      const link = await this.db.selectFrom('publishing_tokens').select(['single_use', 'used_at']).where('token_id', '=', row.id).executeTakeFirst();
      if (link?.single_use === 1 && link.used_at !== null) throw tokenUsed(link.used_at);
    }
    const scoped = await this.db.selectFrom('token_projects').select('normalized_name').where('token_id', '=', row.id).execute();
    await this.db.updateTable('api_tokens').set({ last_used_at: now.toISOString() }).where('id', '=', row.id).execute();
    return { tokenId: row.id, scope: row.scope as TokenScope, projects: new Set(scoped.map((r) => r.normalized_name)) };
  }

  /**
   * Inside the upload's transaction: a single-use publishing token is spent by the upload that
   * commits with it. The conditional update is the guard when two uploads race on one token.
   */
  async spendSingleUse(trx: Kysely<Database>, principal: TokenPrincipal, now: Date): Promise<void> {
    if (principal.scope !== 'publishing') return;
    const link = await trx.selectFrom('publishing_tokens').select(['single_use', 'used_at']).where('token_id', '=', principal.tokenId).executeTakeFirst();
    if (link?.single_use !== 1) return;
    const spent = await trx
      .updateTable('publishing_tokens')
      .set({ used_at: now.toISOString() })
      .where('token_id', '=', principal.tokenId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(spent.numUpdatedRows) === 0) throw tokenUsed(link.used_at ?? 'just now');
  }

  /**
   * Upload permission: a project-scoped token may upload to its projects; a `new_projects` token may
   * create a project (and becomes its owner) and upload to projects it owns.
   */
  async assertMayUpload(
    principal: TokenPrincipal,
    project: { id: number; normalizedName: string } | null,
    requestedName: string,
    /** The upload's transaction, when the check runs inside one (a project created concurrently). */
    trx: Kysely<Database> = this.db,
  ): Promise<void> {
    const normalized = normalizeProjectName(requestedName);
    if (principal.scope === 'publishing') {
      // A trusted publisher's token never creates a project: the exchange already created (reified)
      // it for a pending publisher, so a missing project means it was removed since.
      if (project !== null && principal.projects.has(normalized)) return;
      throw new CairnError('auth.forbidden', `The user isn't allowed to upload to project '${requestedName}': this trusted-publishing token is scoped to ${[...principal.projects].join(', ') || 'no project'}`);
    }
    if (principal.projects.has(normalized)) return;
    if (principal.scope === 'new_projects') {
      if (project === null) return;
      const owner = await trx
        .selectFrom('project_owners')
        .select('token_id')
        .where('project_id', '=', project.id)
        .where('token_id', '=', principal.tokenId)
        .executeTakeFirst();
      if (owner) return;
      throw new CairnError('auth.forbidden', `The user isn't allowed to upload to project '${requestedName}': it exists and this token does not own it`);
    }
    throw new CairnError('auth.forbidden', `The user isn't allowed to upload to project '${requestedName}': the token is scoped to ${[...principal.projects].join(', ') || 'no project'}`);
  }
}
