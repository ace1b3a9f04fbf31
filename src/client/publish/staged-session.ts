import { CairnError, isErrorCode } from '../../errors.ts';
import { indexUrl } from '../index-client.ts';

/** PEP 694's media type for Upload 2.0 requests. */
const UPLOAD_V2_JSON = 'application/vnd.pypi.upload.v2+json';

/** What the index answers about a publishing session (PEP 694 body, cairn's additions). */
export interface StagedSession {
  links: { session: string; stage: string; upload: string; publish: string };
  'session-token': string;
  'expires-at': string;
  status: 'pending' | 'published' | 'canceled';
  'require-provenance': 'build' | null;
  files: Record<string, { sha256: string; size: number; 'build-provenance': boolean; 'publish-attestation': boolean }>;
  missing: { filename: string; missing: 'file' | 'build-provenance' }[];
}

const basic = (token: string) => `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`;

async function sessionCall(url: string, init: RequestInit, what: string): Promise<StagedSession> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new CairnError('network.error', `cannot reach ${url}: ${cause ?? (error as Error).message}`);
  }
  const text = await response.text();
  let body: { code?: string; message?: string; details?: Record<string, unknown> } & Partial<StagedSession>;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new CairnError(response.status >= 500 ? 'server.error' : 'request.malformed', `${what}: HTTP ${response.status} ${text.slice(0, 200)}`);
  }
  if (response.ok) return body as StagedSession;
  const code = body.code && isErrorCode(body.code) ? body.code : response.status >= 500 ? 'server.error' : 'request.malformed';
  throw new CairnError(code, `${what}: ${body.message ?? `HTTP ${response.status}`}`, body.details);
}

/** Opens a session for one release (PEP 694 `POST` to the upload root), naming the files it will hold. */
export function createSession(
  index: string,
  token: string,
  release: { name: string; version: string; files: string[]; requireProvenance?: 'build' },
): Promise<StagedSession> {
  return sessionCall(
    indexUrl(index, '/_/sessions/'),
    {
      method: 'POST',
      headers: { 'Content-Type': UPLOAD_V2_JSON, Authorization: basic(token) },
      body: JSON.stringify({
        meta: { 'api-version': '2.0' },
        name: release.name,
        version: release.version,
        files: release.files,
        ...(release.requireProvenance ? { 'require-provenance': release.requireProvenance } : {}),
      }),
    },
    `opening a publishing session for ${release.name} ${release.version}`,
  );
}

export function sessionStatus(sessionUrl: string, token: string): Promise<StagedSession> {
  return sessionCall(sessionUrl, { headers: { Authorization: basic(token) } }, 'reading the session');
}

export function publishSession(session: StagedSession, token: string): Promise<StagedSession> {
  return sessionCall(session.links.publish, { method: 'POST', headers: { Authorization: basic(token) } }, 'publishing the session');
}

export function cancelSession(sessionUrl: string, token: string): Promise<StagedSession> {
  return sessionCall(sessionUrl, { method: 'DELETE', headers: { Authorization: basic(token) } }, 'canceling the session');
}

/**
 * Polls the session until every staged file carries verified build provenance (a builder running
 * beside the publish job submits it), or the time is up; answers the last state either way.
 */
export async function waitForBuildProvenance(
  session: StagedSession,
  token: string,
  options: { timeoutMs: number; intervalMs?: number; now?: () => number },
): Promise<StagedSession> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  let state = await sessionStatus(session.links.session, token);
  const lacking = (s: StagedSession) => Object.values(s.files).some((f) => !f['build-provenance']);
  while (lacking(state) && now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 2000, Math.max(0, deadline - now()))));
    state = await sessionStatus(session.links.session, token);
  }
  return state;
}
