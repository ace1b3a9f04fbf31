import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import type { DevTokenRequest } from '../formats/dev-token-request.ts';
import { CairnError } from '../errors.ts';

export interface OidcCredentialOptions {
  tokenFile?: string;
  /** The audience to ask an ambient provider for (`sigstore` for signing, the index's for publishing). */
  audience: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Finds the CI's OIDC credential: an explicit token file, GitHub Actions' token request endpoint
 * (needs `permissions: id-token: write`), or a GitLab `id_tokens` variable.
 */
export async function obtainOidcToken(options: OidcCredentialOptions): Promise<{ token: string; source: string }> {
  const env = options.env ?? process.env;
  if (options.tokenFile) {
    const token = (await readFile(options.tokenFile, 'utf8')).trim();
    if (!token) throw new CairnError('usage.invalid_argument', `the OIDC token file ${options.tokenFile} is empty`);
    return { token, source: `file ${options.tokenFile}` };
  }
  if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    const url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL);
    url.searchParams.set('audience', options.audience);
    const response = await fetch(url, { headers: { Authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` } }).catch((error: unknown) => {
      throw new CairnError('network.error', `requesting the GitHub Actions OIDC token failed: ${String(error)}`);
    });
    if (!response.ok) throw new CairnError('network.error', `GitHub Actions refused the OIDC token request: HTTP ${response.status}`);
    const body = (await response.json()) as { value?: string };
    if (!body.value) throw new CairnError('network.error', 'GitHub Actions answered the OIDC token request without a token');
    return { token: body.value, source: 'GitHub Actions' };
  }
  // GitLab: the pipeline declares `id_tokens: { SIGSTORE_ID_TOKEN: { aud: sigstore } }` (or CAIRN_ID_TOKEN for publishing).
  for (const name of options.audience === 'sigstore' ? ['SIGSTORE_ID_TOKEN', 'CAIRN_ID_TOKEN'] : ['CAIRN_ID_TOKEN', 'PYPI_ID_TOKEN', 'SIGSTORE_ID_TOKEN']) {
    const value = env[name];
    if (value) return { token: value.trim(), source: `GitLab variable ${name}` };
  }
  throw new CairnError(
    'usage.invalid_argument',
    'no OIDC credential found: run in GitHub Actions with `permissions: id-token: write`, in GitLab CI with `id_tokens`, or pass --oidc-token-file',
  );
}

/** Reads claims without verifying: the CA and the index verify; the client only needs to look. */
export function peekClaims(token: string): Record<string, unknown> {
  try {
    return decodeJwt(token) as Record<string, unknown>;
  } catch (error) {
    throw new CairnError('oidc.malformed_token', `the OIDC token is not a JWT: ${(error as Error).message}`);
  }
}

/**
 * A CI-like token from a dev trust domain's issuer (`BASE/oidc/token`, GitHub Actions claim
 * names), for developer machines without a CI credential. Only the dev issuer mints tokens on
 * request; no production verifier trusts it.
 */
export async function devIssuerToken(devTrustBase: string, claims: DevTokenClaims): Promise<{ token: string; source: string }> {
  const base = devTrustBase.replace(/\/+$/, '');
  const response = await fetch(`${base}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(claims),
  }).catch((error: unknown) => {
    throw new CairnError('network.error', `cannot reach the dev trust domain at ${base}: ${String(error)}`);
  });
  const body = (await response.json().catch(() => ({}))) as { token?: string; message?: string };
  if (!response.ok || !body.token) {
    const code = response.status >= 400 && response.status < 500 ? 'usage.invalid_argument' : 'server.error';
    throw new CairnError(code, `the dev trust domain at ${base} refused the token request (HTTP ${response.status}): ${body.message ?? 'no message'}`);
  }
  return { token: body.token, source: `the dev trust domain at ${base} (development only)` };
}

/** What a caller may ask the dev issuer to put in a token (GitHub Actions claim names). */
export type DevTokenClaims = DevTokenRequest;
