import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { sendProblem } from '../../../http/errors.ts';
import { publicBaseUrl } from '../../../http/public-url.ts';
import type { CairnServices } from '../../composition.ts';

/** PEP 807's media type; a request without Accept is answered as if it asked for it. */
export const PYTP_MEDIA_TYPE = 'application/vnd.pypi.pytp.v1+json';
/** The upload URL paths this index serves (`POST /legacy/` and its slashless twin). */
const UPLOAD_PATHS = ['/legacy/', '/legacy'];
const AUDIENCE_PATH = '/_/pytp/audience';
const MINT_TOKEN_PATH = '/_/pytp/mint-token';

/**
 * PEP 807 discovery keys: SHA-256 of the upload URL's path. The draft's worked example
 * (`af030c…` for `/legacy/`) hashes the path with a trailing newline (`shasum <<<`), so that
 * spelling is answered too: a client following either the text or the example finds the index.
 */
export function discoveryKeys(paths: readonly string[] = UPLOAD_PATHS): Set<string> {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  return new Set(paths.flatMap((path) => [sha256(path), sha256(`${path}\n`)]));
}

/** PEP 807: other Accept values SHOULD get 406; JSON and wildcards are what generic clients send. */
function assertAcceptable(request: FastifyRequest): void {
  const accept = request.headers.accept;
  if (accept === undefined || accept.trim() === '') return;
  const types = accept.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase());
  if (types.some((t) => t === PYTP_MEDIA_TYPE || t === 'application/json' || t === '*/*' || t === 'application/*')) return;
  throw new CairnError('request.not_acceptable', `this endpoint answers ${PYTP_MEDIA_TYPE} (PEP 807); the request accepts only ${accept}`);
}

const MINT_BODY = {
  type: 'object',
  description: 'a JSON object {"token": "<OIDC JWT>", "single-use": true|false}',
  required: ['token'],
  properties: {
    token: { type: 'string', minLength: 1, description: 'the OIDC token (a JWT) the CI issued' },
    'single-use': { type: 'boolean', description: 'the minted upload token authorises one upload only' },
  },
} as const;

/**
 * Trusted Publishing discovery and exchange as PEP 807 (draft) specifies them, beside the
 * PyPI-compatible `/_/oidc/*` routes: `GET /.well-known/pytp/{key}` names this index's audience
 * and mint endpoints; their failures are RFC 9457 problem documents carrying the cairn code.
 */
export async function trustedPublishingDiscoveryRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const keys = discoveryKeys();
  const exchange = services.oidcExchange;
  app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error));

  app.get<{ Params: { key: string } }>('/.well-known/pytp/:key', async (request, reply) => {
    assertAcceptable(request);
    // PEP 807: an upload URL without Trusted Publishing is a 404 that SHOULD carry no body.
    if (!keys.has(request.params.key.toLowerCase())) return reply.code(404).send();
    const base = publicBaseUrl(request, services.config.baseUrl);
    return reply
      .type(PYTP_MEDIA_TYPE)
      .send({ 'audience-endpoint': `${base}${AUDIENCE_PATH}`, 'mint-token-endpoint': `${base}${MINT_TOKEN_PATH}` });
  });

  app.get(AUDIENCE_PATH, async (request, reply) => {
    assertAcceptable(request);
    return reply.type(PYTP_MEDIA_TYPE).send({ audience: exchange.audience() });
  });

  app.post<{ Body: { token: string; 'single-use'?: boolean } }>(
    MINT_TOKEN_PATH,
    { bodyLimit: 64 * 1024, schema: { body: MINT_BODY }, config: { invalidInput: 'oidc.malformed_token' } },
    async (request, reply) => {
      assertAcceptable(request);
      const minted = await exchange.mintToken(request.body.token, { singleUse: request.body['single-use'] === true });
      request.log.info({ expires: minted.expires, singleUse: minted.singleUse }, 'trusted publishing token minted (PEP 807)');
      return reply.type(PYTP_MEDIA_TYPE).send({ token: minted.token, expires: minted.expires, 'single-use': minted.singleUse });
    },
  );
}
