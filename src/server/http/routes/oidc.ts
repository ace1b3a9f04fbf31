import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError, httpStatusFor, type ErrorCode } from '../../../errors.ts';
import type { CairnServices } from '../../composition.ts';
import { toCairnError } from '../../../http/errors.ts';

/** Warehouse's error codes for the exchange; the cairn code rides beside them as `code`. */
function pypiErrorCode(code: ErrorCode): string {
  if (code === 'oidc.no_matching_publisher') return 'invalid-publisher';
  if (code === 'oidc.issuer_unavailable') return 'issuer-unavailable';
  if (code.startsWith('oidc.')) return 'invalid-token';
  return 'invalid-payload';
}

/**
 * PyPI answers a failed exchange `422 {message, errors: [{code, description}]}`, which
 * pypa/gh-action-pypi-publish prints; cairn's own clients read `code`.
 */
function sendExchangeError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  let failure = toCairnError(error);
  if (failure.code === 'request.malformed' || failure.code === 'request.too_large') {
    failure = new CairnError('oidc.malformed_token', `the request needs a JSON body {"token": "<OIDC JWT>"}: ${failure.message}`);
  }
  if (failure.code === 'internal.error') request.log.error({ err: error }, 'trusted publishing exchange failed');
  return reply
    .code(httpStatusFor(failure.code))
    .type('application/json')
    .send({
      message: 'Token request failed',
      code: failure.code,
      errors: [{ code: pypiErrorCode(failure.code), description: failure.message }],
    });
}

/** The exchange's request, as PyPI's: `{"token": "<OIDC JWT>"}`. */
export const MINT_TOKEN_BODY = {
  type: 'object',
  description: 'a JSON object {"token": "<OIDC JWT>"}',
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, description: 'the OIDC token (a JWT) the CI issued' } },
} as const;

/** Trusted Publishing (DESIGN §3): `GET /_/oidc/audience`, `POST /_/oidc/mint-token`. */
export async function oidcRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const exchange = services.oidcExchange;

  app.get('/_/oidc/audience', async () => ({ audience: exchange.audience() }));

  app.post<{ Body: { token: string } }>(
    '/_/oidc/mint-token',
    {
      bodyLimit: 64 * 1024,
      schema: { body: MINT_TOKEN_BODY },
      config: { invalidInput: 'oidc.malformed_token' },
      errorHandler: (error, request, reply) => sendExchangeError(request, reply, error),
    },
    async (request, reply) => {
      const minted = await exchange.mintToken(request.body.token);
      request.log.info({ expires: minted.expires, singleUse: minted.singleUse }, 'trusted publishing token minted');
      return reply.code(200).type('application/json').send({ success: minted.success, token: minted.token, expires: minted.expires });
    },
  );
}
