import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { CairnError, errorBody, httpStatusFor, isCairnError, PROBLEM_MEDIA_TYPE, problemBody } from '../errors.ts';
import { installInvalidInputFormatter } from './invalid-input.ts';

/** Converts anything thrown in a route into `{code, message}` with the status from errors.ts. */
/** Codes of a full disk or quota from the file system, SQLite and PostgreSQL (SQLSTATE 53100). */
const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

export function toCairnError(error: unknown): CairnError {
  if (isCairnError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && STORAGE_FULL.has(code)) {
    return new CairnError('storage.full', `the server's storage is full (${code}): nothing was stored; try again later`, { code });
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new CairnError('request.too_large', 'request body is too large');
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new CairnError('request.malformed', `unsupported content type: ${fastifyError.message ?? ''}`);
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new CairnError('request.malformed', fastifyError.message ?? 'bad request');
  }
  return new CairnError('internal.error', 'internal server error');
}

/** A failure on the index's side (5xx) is for the operator: logged with its code, not only answered. */
function logServerSide(request: FastifyRequest, cairnError: CairnError, error: unknown): void {
  if (cairnError.code === 'internal.error') request.log.error({ err: error }, 'unhandled error');
  else if (httpStatusFor(cairnError.code) >= 500) request.log.error({ code: cairnError.code }, cairnError.message);
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const cairnError = toCairnError(error);
  logServerSide(request, cairnError, error);
  return reply.code(httpStatusFor(cairnError.code)).type('application/json').send(errorBody(cairnError));
}

/**
 * RFC 9457: the failure as `application/problem+json`. A route answers this way by setting
 * `errorHandler: (error, request, reply) => sendProblem(request, reply, error)`; the body keeps
 * the cairn code (see problemBody).
 */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const cairnError = toCairnError(error);
  if (cairnError.code === 'internal.error') request.log.error({ err: error }, 'unhandled error');
  return reply.code(httpStatusFor(cairnError.code)).type(PROBLEM_MEDIA_TYPE).send(problemBody(cairnError));
}

/**
 * twine prints the HTTP reason phrase, so the legacy upload route puts the message there as PyPI
 * does. The phrase must be a single line of visible ASCII.
 */
export function sendLegacyError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const cairnError = toCairnError(error);
  logServerSide(request, cairnError, error);
  const phrase = cairnError.message.replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
  reply.raw.statusMessage = phrase;
  return reply.code(httpStatusFor(cairnError.code)).type('application/json').send(errorBody(cairnError));
}

/**
 * How every cairn app answers failures, registered once on the root instance (fastify-plugin
 * lifts it out of its own scope) before the route plugins, so each of them inherits it: anything
 * a route throws becomes `{code, message}`, an unknown path is `request.not_found`, and a request
 * failing a route's schema gets the code the route names in `config.invalidInput`.
 * Routes that answer differently (`/legacy/`, the Trusted Publishing exchange) set their own
 * error handler; it receives the same CairnErrors.
 */
export const cairnErrorHandling = fastifyPlugin(
  async (app) => {
    app.addHook('onRoute', installInvalidInputFormatter);
    app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
    app.setNotFoundHandler((request, reply) =>
      sendError(request, reply, new CairnError('request.not_found', `no route for ${request.method} ${request.url}`)),
    );
  },
  { name: 'cairn-error-handling' },
);
