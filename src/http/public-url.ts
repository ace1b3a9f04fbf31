import type { FastifyRequest } from 'fastify';

/**
 * The URL clients reach this server at, for links and commands people copy: the configured base
 * URL when there is one (behind a proxy), else what the request itself names. No trailing slash.
 */
export function publicBaseUrl(request: FastifyRequest, configured: string | null | undefined): string {
  return (configured ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
}
