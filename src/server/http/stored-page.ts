import type { FastifyReply, FastifyRequest } from 'fastify';
import { answerConditional } from '../../http/conditional.ts';
import { acceptsGzip } from '../../http/content-encoding.ts';
import type { PageStore, StoredPage } from '../pages/page-store.ts';

export interface StoredPageAnswer {
  contentType: string;
  /** Tells representations of the same bytes apart in the entity-tag (`-v` for the PEP 691 HTML type). */
  etagSuffix: string;
  cacheControl: string;
  vary: string;
  /** What a CDN purges the page by. */
  surrogateKey: string;
}

/**
 * Sends a page rendered on write as stored: gzip bytes to clients that accept gzip (pip does),
 * the decompressed bytes to others. Each encoding has its own entity-tag, derived from the
 * content digest, so every instance and every cache agrees on it.
 */
export async function sendStoredPage(request: FastifyRequest, reply: FastifyReply, pages: PageStore, page: StoredPage, answer: StoredPageAnswer): Promise<FastifyReply> {
  const gzip = acceptsGzip(request.headers['accept-encoding']);
  const etag = `"${page.sha256.slice(0, 32)}${answer.etagSuffix}${gzip ? '-gz' : ''}"`;
  reply.header('Vary', answer.vary).header('ETag', etag).header('Cache-Control', answer.cacheControl).header('Surrogate-Key', answer.surrogateKey);
  if (answerConditional(request, reply, etag)) return reply;
  reply.type(answer.contentType);
  if (gzip) return reply.header('Content-Encoding', 'gzip').send(page.gzip);
  return reply.send(await pages.identityOf(page));
}
