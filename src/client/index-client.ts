import { CairnError, isErrorCode } from '../errors.ts';

/**
 * Talks to a cairn index (or PyPI, for the parts PyPI has) from the client commands. Errors the
 * index answers keep their code, so the CLI exits as the server meant.
 */
async function call(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new CairnError('network.error', `cannot reach ${url}: ${cause ?? (error as Error).message}`);
  }
}

async function failure(response: Response, what: string): Promise<CairnError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { code?: string; message?: string; errors?: { code?: string; description?: string }[] };
    const first = body.errors?.[0];
    const code = body.code ?? first?.code;
    // PyPI-shaped answers (the exchange) put a generic `message` and the reason in `errors`.
    const message = first?.description ?? body.message ?? text;
    if (code && isErrorCode(code)) return new CairnError(code, `${what}: ${message}`);
    return new CairnError(response.status >= 500 ? 'server.error' : 'request.malformed', `${what}: HTTP ${response.status} ${message}`);
  } catch {
    return new CairnError(response.status >= 500 ? 'server.error' : 'request.malformed', `${what}: HTTP ${response.status} ${response.statusText} ${text.slice(0, 200)}`);
  }
}

/**
 * The base URL of an index as the user gave it, or as they had it at hand: `--index` is the base
 * (`http://127.0.0.1:8470`), from which every path is derived, but the upload URL (`…/legacy/`)
 * and pip's index URL (`…/simple/`) are what people copy from twine and pip configuration, so
 * a trailing `/legacy` or `/simple` is cut back to the base. A path before it is kept (an index
 * served under a prefix).
 */
export function indexBaseUrl(given: string): string {
  return given.replace(/\/+$/, '').replace(/\/(legacy|simple)$/i, '');
}

/** `--index URL` checked: an http(s) URL, reduced to the index's base URL. */
export function parseIndexOption(given: string, flag = '--index'): string {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new CairnError('usage.invalid_argument', `${flag} ${given} is not a URL; give the index's base URL, e.g. http://127.0.0.1:8470`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CairnError('usage.invalid_argument', `${flag} must be an http(s) URL (the index's base URL, e.g. http://127.0.0.1:8470), got ${given}`);
  }
  return indexBaseUrl(given);
}

export function indexUrl(index: string, path: string): string {
  return `${indexBaseUrl(index)}${path}`;
}

export interface ProvenanceSubmissionAnswer {
  status: 'pending' | 'bound';
  expires_at: string | null;
  signer: { issuer: string; identity: string }[];
}

export async function submitProvenance(index: string, submission: { filename: string; sha256: string; attestations: unknown[] }): Promise<ProvenanceSubmissionAnswer> {
  const response = await call(indexUrl(index, '/_/provenance'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(submission),
  });
  if (!response.ok) throw await failure(response, `the index refused the provenance for ${submission.filename}`);
  return (await response.json()) as ProvenanceSubmissionAnswer;
}

export async function fetchAudience(index: string): Promise<string> {
  const response = await call(indexUrl(index, '/_/oidc/audience'), {});
  if (!response.ok) throw await failure(response, 'the index does not offer trusted publishing');
  return ((await response.json()) as { audience: string }).audience;
}

export async function exchangeOidcToken(index: string, oidcToken: string): Promise<{ token: string; expires: number | string }> {
  const response = await call(indexUrl(index, '/_/oidc/mint-token'), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: oidcToken }),
  });
  if (!response.ok) throw await failure(response, 'the trusted publishing exchange failed');
  return (await response.json()) as { token: string; expires: number | string };
}
