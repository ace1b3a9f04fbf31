import { randomInt, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, createLocalJWKSet, exportJWK, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { CairnError } from '../errors.ts';
import type { DevTokenRequest } from '../formats/dev-token-request.ts';
import { isCommitDigest } from '../formats/digests.ts';
import { oidcErrorFromJose } from '../trust/jose-errors.ts';

export type { DevTokenRequest };


export interface DevTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string;
  repository: string;
  repository_owner: string;
  workflow_ref: string;
  job_workflow_ref: string;
  sha: string;
  ref: string;
  run_id: string;
  run_attempt: string;
  runner_environment: string;
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
  [claim: string]: unknown;
}

export const DEFAULT_TOKEN_AUDIENCE = 'sigstore';
const DEFAULT_TTL_SECONDS = 600;
const MAX_TTL_SECONDS = 3600;
const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * An OIDC issuer that mints CI-like identity tokens (ES256, GitHub Actions' claim set). It is a
 * stand-in for a CI provider: anyone who can reach it can mint any identity, which is why
 * nothing it signs is trusted unless an operator adds the domain's root (DESIGN §5).
 */
export class DevOidcIssuer {
  constructor(
    private readonly key: { privateKey: KeyObject; publicKey: KeyObject; kid: string },
    private readonly issuerUrl: () => string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  get issuer(): string {
    return this.issuerUrl();
  }

  discoveryDocument(): Record<string, unknown> {
    const issuer = this.issuer;
    return {
      issuer,
      jwks_uri: `${issuer}/jwks`,
      token_endpoint: `${issuer}/token`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public', 'pairwise'],
      id_token_signing_alg_values_supported: ['ES256'],
      scopes_supported: ['openid'],
      claims_supported: [
        'sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'sha', 'repository', 'repository_owner', 'run_id', 'run_attempt',
        'actor', 'workflow', 'workflow_ref', 'workflow_sha', 'job_workflow_ref', 'job_workflow_sha', 'event_name', 'environment',
        'runner_environment',
      ],
    };
  }

  async jwks(): Promise<JSONWebKeySet> {
    const jwk = await exportJWK(this.key.publicKey);
    return { keys: [{ ...jwk, kid: this.key.kid, alg: 'ES256', use: 'sig' }] };
  }

  async mint(request: DevTokenRequest): Promise<{ token: string; claims: DevTokenClaims }> {
    const claims = this.claimsFor(request);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: this.key.kid, typ: 'JWT' })
      .sign(this.key.privateKey);
    return { token, claims };
  }

  /**
   * Verifies a token this issuer minted, as a relying party would: signature against the JWKS,
   * `iss`, `aud`, and the time claims with a small leeway. Failures carry `oidc.*` codes.
   */
  async verify(token: string, audience: string): Promise<DevTokenClaims> {
    const keySet = createLocalJWKSet(await this.jwks());
    try {
      const { payload } = await jwtVerify(token, keySet, {
        issuer: this.issuer,
        audience,
        algorithms: ['ES256'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: this.clock(),
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      return payload as DevTokenClaims;
    } catch (error) {
      throw oidcErrorFromJose(error, { token: 'the identity token', issuer: this.issuer, expectedAudience: 'accepted here', otherwise: 'oidc.malformed_token' });
    }
  }

  private claimsFor(request: DevTokenRequest): DevTokenClaims {
    const repository = required(request.repository, 'repository');
    const workflowRef = required(request.workflow_ref, 'workflow_ref');
    const sha = required(request.sha, 'sha').toLowerCase();
    if (!isCommitDigest(sha)) {
      throw new CairnError('usage.invalid_argument', `sha must be a 40- or 64-hex commit id, got ${JSON.stringify(request.sha)}`);
    }
    if (!isUrl(repository) && !/^[\w.-]+\/[\w.-]+$/.test(repository)) {
      throw new CairnError('usage.invalid_argument', `repository must be OWNER/REPO or a URL, got ${JSON.stringify(repository)}`);
    }
    const ttl = request.ttl ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
      throw new CairnError('usage.invalid_argument', `ttl must be 1..${MAX_TTL_SECONDS} seconds`);
    }
    const ref = request.ref ?? 'refs/heads/main';
    const now = Math.floor(this.clock().getTime() / 1000);
    const environment = request.environment;
    // GitHub's default subject: repo:<repository>:environment:<env> or repo:<repository>:ref:<ref>.
    const sub = request.sub ?? (environment ? `repo:${repository}:environment:${environment}` : `repo:${repository}:ref:${ref}`);
    const claims: DevTokenClaims = {
      iss: this.issuer,
      sub,
      aud: request.aud ?? DEFAULT_TOKEN_AUDIENCE,
      repository,
      repository_owner: repositoryOwner(repository),
      actor: repositoryOwner(repository),
      workflow: workflowName(workflowRef),
      workflow_ref: workflowRef,
      workflow_sha: request.workflow_sha ?? sha,
      job_workflow_ref: request.job_workflow_ref ?? workflowRef,
      job_workflow_sha: request.job_workflow_sha ?? sha,
      sha,
      ref,
      ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
      event_name: request.event_name ?? 'push',
      run_id: request.run_id ?? String(randomInt(1, 2 ** 40)),
      run_attempt: request.run_attempt ?? '1',
      runner_environment: request.runner_environment ?? 'github-hosted',
      jti: randomUUID(),
      iat: now,
      nbf: now,
      exp: now + ttl,
    };
    if (environment) claims.environment = environment;
    return claims;
  }
}

/** Reads a token request from a JSON body or a query string (GitHub's `?audience=` included). */
export function tokenRequestFrom(input: Record<string, unknown>): DevTokenRequest {
  const text = (name: string): string | undefined => {
    const value = input[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new CairnError('usage.invalid_argument', `${name} must be a string`);
    }
    return String(value);
  };
  const ttl = text('ttl');
  const request: DevTokenRequest = {
    repository: text('repository') ?? '',
    workflow_ref: text('workflow_ref') ?? '',
    sha: text('sha') ?? '',
  };
  const optional = ['job_workflow_ref', 'ref', 'environment', 'run_id', 'run_attempt', 'runner_environment', 'event_name', 'job_workflow_sha', 'workflow_sha', 'sub'] as const;
  for (const name of optional) {
    const value = text(name);
    if (value !== undefined) request[name] = value;
  }
  const aud = text('aud') ?? text('audience');
  if (aud !== undefined) request.aud = aud;
  if (ttl !== undefined) request.ttl = Number(ttl);
  return request;
}

export function isUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new CairnError('usage.invalid_argument', `the token request needs ${name}`);
  return value;
}

function repositoryOwner(repository: string): string {
  if (!isUrl(repository)) return repository.split('/')[0] ?? '';
  const segments = new URL(repository).pathname.split('/').filter(Boolean);
  return segments.length >= 2 ? segments[segments.length - 2]! : new URL(repository).host;
}

function workflowName(workflowRef: string): string {
  const path = workflowRef.split('@')[0] ?? workflowRef;
  return path.split('/').pop() ?? path;
}

