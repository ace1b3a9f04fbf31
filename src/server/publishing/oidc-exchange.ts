import type { Kysely } from 'kysely';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { CairnError } from '../../errors.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import { oidcErrorFromJose } from '../../trust/jose-errors.ts';
import { repositoryClaimFor } from '../../trust/publisher-claims.ts';
import { isUniqueViolation } from '../storage/database.ts';
import type { Database } from '../storage/schema.ts';
import type { TokenService } from '../auth/tokens.ts';
import type { CatalogueChanges, RecordedChange } from '../pages/catalogue-changes.ts';
import type { TrustedPublisher, TrustedPublisherService } from './trusted-publishers.ts';

/**
 * The Trusted Publishing exchange (PyPI's `POST /_/oidc/mint-token`): a CI job's OIDC token in,
 * a 15-minute upload token scoped to the publisher's project out.
 */

/** Asymmetric algorithms only: an HMAC "signature" keyed with the issuer's public key proves nothing. */
export const ALLOWED_ALGORITHMS = ['RS256', 'ES256'] as const;
/** Clock skew tolerated on exp/nbf/iat (Warehouse uses 30 s). */
export const CLOCK_LEEWAY_SECONDS = 30;
export const PUBLISHING_TOKEN_TTL_SECONDS = 15 * 60;
/** Discovery documents are re-read this often; jose refreshes the key set itself on an unknown kid. */
const DISCOVERY_MAX_AGE_MS = 60 * 60 * 1000;

export interface OidcExchangeOptions {
  db: Kysely<Database>;
  publishers: TrustedPublisherService;
  /** Mints the upload token inside the exchange's transaction. */
  tokens: TokenService;
  /** Renders the pages of a project a pending publisher creates. */
  changes: CatalogueChanges;
  /**
   * Exact `iss` values accepted (ServerConfig.trustedOidcIssuers, plus the mounted dev trust
   * domain's issuer, whose URL is known only once the server listens).
   */
  issuers: () => readonly string[];
  audience: string;
  clock: () => Date;
  /** Every minted token is single-use (CAIRN_PUBLISHING_SINGLE_USE=1), whatever the request asks. */
  singleUseOnly?: boolean;
}

export interface MintedToken {
  success: true;
  token: string;
  /** Unix time in seconds, as PyPI answers. */
  expires: number;
  /** Whether the token authorises one upload only. */
  singleUse: boolean;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

export class OidcExchangeService {
  private readonly keySets = new Map<string, { keys: KeySet; loadedAt: number }>();

  constructor(private readonly options: OidcExchangeOptions) {}

  /**
   * The `aud` a CI job must request. It is a configuration value (CAIRN_OIDC_AUDIENCE, default
   * `cairn`) rather than derived from the base URL, so it is stable behind proxies; operators of
   * several indexes give each its own, as PyPI and TestPyPI use `pypi` and `testpypi`.
   */
  audience(): string {
    return this.options.audience;
  }

  /**
   * `singleUse`: the token authorises one upload (issue 15), so a token that leaks from a CI log
   * after the upload is worth nothing; the operator can make every token so.
   */
  async mintToken(jwt: unknown, options: { singleUse?: boolean } = {}): Promise<MintedToken> {
    const singleUse = this.options.singleUseOnly === true || options.singleUse === true;
    const { issuer, claims } = await this.verifyToken(jwt);
    const now = this.options.clock();
    const jti = claims.jti as string;

    const seen = await this.options.db
      .selectFrom('oidc_used_jti')
      .select('jti')
      .where('issuer', '=', issuer)
      .where('jti', '=', jti)
      .where('expires_at', '>', now.toISOString())
      .executeTakeFirst();
    if (seen) throw new CairnError('oidc.replayed', `this OIDC token (jti ${jti}) was already exchanged; a token is exchanged once: mint a new one (in CI, request a fresh token)`);

    const { matches, mismatchedClaims } = await this.options.publishers.matching(issuer, claims);
    if (matches.length === 0) {
      // An issuer with no publisher at all reads like one whose publishers name other repositories.
      const claimNames = mismatchedClaims.length > 0 ? mismatchedClaims : [repositoryClaimFor(issuer)];
      throw new CairnError(
        'oidc.no_matching_publisher',
        `no trusted publisher matches this token: its ${claimNames.map((c) => `'${c}'`).join(', ')} claim${claimNames.length === 1 ? '' : 's'} did not match what a publisher requires. ` +
          "Check that the project's trusted publisher names this repository, workflow file and environment exactly",
      );
    }

    const expiresAt = new Date(now.getTime() + PUBLISHING_TOKEN_TTL_SECONDS * 1000);
    const jtiExpiry = new Date(Math.max(((claims.exp as number) + CLOCK_LEEWAY_SECONDS) * 1000, now.getTime()));
    const newProjects: RecordedChange[] = [];
    try {
      const minted = await this.options.db.transaction().execute(async (trx) => {
        // Expired replay records can go: a token past exp+leeway is refused before the jti matters.
        await trx.deleteFrom('oidc_used_jti').where('expires_at', '<=', now.toISOString()).execute();
        // The insert is the replay guard under concurrency; the select above only gives a fast answer.
        await trx.insertInto('oidc_used_jti').values({ issuer, jti, expires_at: jtiExpiry.toISOString() }).execute();
        const publishers = await this.options.publishers.reifyPending(trx, matches, now);
        // A pending publisher's first exchange created its project: its pages and root entry too.
        if (!matches.some((p) => !p.pending) && publishers[0]?.projectId != null) {
          newProjects.push(await this.options.changes.projectChanged(trx, publishers[0].projectId, { created: true }));
        }
        const projects = [...new Set(publishers.map((p) => normalizeProjectName(p.projectName)))];
        const primary = publishers[0] as TrustedPublisher;
        const created = await this.options.tokens.insertWithin(trx, {
          scope: 'publishing',
          projects,
          description: `trusted publishing: publisher ${primary.id} (${primary.repository} ${primary.workflow})`,
          expiresAt,
          now,
        });
        await trx
          .insertInto('publishing_tokens')
          .values({ token_id: created.tokenId, publisher_id: primary.id, claims_json: JSON.stringify(claims), single_use: singleUse ? 1 : 0 })
          .execute();
        return created;
      });
      this.options.changes.published(...newProjects);
      return { success: true, token: minted.token, expires: Math.floor(expiresAt.getTime() / 1000), singleUse };
    } catch (error) {
      if (isUniqueViolation(error)) throw new CairnError('oidc.replayed', `this OIDC token (jti ${jti}) was already exchanged; a token is exchanged once: mint a new one (in CI, request a fresh token)`);
      throw error;
    }
  }

  /** Signature, algorithm, issuer, audience and time checks; the claims only once all pass. */
  async verifyToken(jwt: unknown): Promise<{ issuer: string; claims: JWTPayload }> {
    if (typeof jwt !== 'string' || jwt.trim() === '') {
      throw new CairnError('oidc.malformed_token', 'the request needs a JSON body {"token": "<OIDC JWT>"}');
    }
    const token = jwt.trim();
    let alg: string | undefined;
    let unverified: JWTPayload;
    try {
      alg = decodeProtectedHeader(token).alg;
      unverified = decodeJwt(token);
    } catch (error) {
      throw new CairnError('oidc.malformed_token', `the OIDC token is not a well-formed JWT: ${(error as Error).message}`);
    }
    if (!alg || !(ALLOWED_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new CairnError('oidc.bad_algorithm', `the OIDC token is signed with '${alg ?? 'nothing'}'; accepted: ${ALLOWED_ALGORITHMS.join(', ')}`);
    }
    const issuer = unverified.iss;
    const trusted = this.options.issuers();
    if (typeof issuer !== 'string' || !trusted.includes(issuer)) {
      throw new CairnError('oidc.bad_issuer', `the OIDC issuer '${String(issuer)}' is not trusted by this index (trusted: ${trusted.join(', ') || 'none'})`);
    }
    const keys = await this.keySetFor(issuer);
    const now = this.options.clock();
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer,
        audience: this.options.audience,
        algorithms: [...ALLOWED_ALGORITHMS],
        clockTolerance: CLOCK_LEEWAY_SECONDS,
        currentDate: now,
        requiredClaims: ['exp', 'iat', 'jti'],
      }));
    } catch (error) {
      throw oidcErrorFromJose(error, {
        token: 'the OIDC token',
        issuer,
        expectedAudience: `'${this.options.audience}' (GET /_/oidc/audience says what to request)`,
        otherwise: 'oidc.issuer_unavailable',
      });
    }
    const nowSeconds = now.getTime() / 1000;
    if (typeof claims.iat !== 'number' || claims.iat > nowSeconds + CLOCK_LEEWAY_SECONDS) {
      throw new CairnError('oidc.not_yet_valid', `the OIDC token was issued in the future (iat ${String(claims.iat)})`);
    }
    if (typeof claims.jti !== 'string' || claims.jti === '') {
      throw new CairnError('oidc.malformed_token', 'the OIDC token has no jti claim, so its reuse could not be detected');
    }
    return { issuer, claims };
  }

  /** OIDC Discovery §4: the issuer's configuration names its JWKS; the key set is cached by jose. */
  private async keySetFor(issuer: string): Promise<KeySet> {
    const cached = this.keySets.get(issuer);
    if (cached && Date.now() - cached.loadedAt < DISCOVERY_MAX_AGE_MS) return cached.keys;
    const discoveryUrl = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await fetch(discoveryUrl, { signal: AbortSignal.timeout(5000), headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (error) {
      if (cached) return cached.keys;
      throw new CairnError('oidc.issuer_unavailable', `cannot read ${discoveryUrl}: ${(error as Error).message}`);
    }
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== issuer || typeof document.jwks_uri !== 'string' || !/^https?:\/\//.test(document.jwks_uri)) {
      throw new CairnError('oidc.issuer_unavailable', `${discoveryUrl} does not describe issuer ${issuer} with a jwks_uri`);
    }
    const keys = createRemoteJWKSet(new URL(document.jwks_uri), { cacheMaxAge: 10 * 60 * 1000, cooldownDuration: 30 * 1000, timeoutDuration: 5000 });
    this.keySets.set(issuer, { keys, loadedAt: Date.now() });
    return keys;
  }
}
