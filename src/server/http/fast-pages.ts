import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeProjectName } from '../../formats/project-name.ts';
import { LEGACY_HTML, negotiateSimpleFormat, SIMPLE_HTML, SIMPLE_JSON } from '../../formats/simple-api.ts';
import { ifNoneMatchMatches } from '../../http/conditional.ts';
import { acceptsGzip } from '../../http/content-encoding.ts';
import type { IndexMetrics } from '../metrics.ts';
import type { PageStore, StoredPage } from '../pages/page-store.ts';
import { projectSurrogateKey } from '../pages/page-caching.ts';

const SIMPLE_PAGE = /^\/simple\/([^/?#]+)\/$/;

/**
 * Clients send the same few Accept and Accept-Encoding values over and over (pip's, uv's, a
 * browser's): their parse is remembered, within a bound so junk values cannot grow it.
 */
class ParsedHeaders<T> {
  private readonly known = new Map<string, T>();
  constructor(private readonly parse: (value: string | undefined) => T) {}
  get(value: string | undefined): T {
    if (value === undefined) return this.parse(value);
    let parsed = this.known.get(value);
    if (parsed === undefined) {
      parsed = this.parse(value);
      if (this.known.size >= 256) this.known.clear();
      this.known.set(value, parsed);
    }
    return parsed;
  }
}

const formats = new ParsedHeaders((accept) => negotiateSimpleFormat(accept, undefined));
const gzipAccepted = new ParsedHeaders((acceptEncoding) => acceptsGzip(acceptEncoding));
const JSON_API_PAGE = /^\/pypi\/([^/?#]+)\/json$/;

/**
 * The answer most requests to an index get — a project's simple page or JSON document, cached,
 * to a client that takes gzip (pip, uv, browsers) — written without the framework's routing and
 * hooks, which cost more per request than the answer itself. The bytes, headers and metrics are
 * those the fastify routes (routes/simple.ts, routes/json-api.ts via stored-page.ts) produce;
 * a page not yet cached is read with one indexed lookup; anything else (a page that does not
 * exist, a redirect, a query, no gzip, a 406, any other path) goes to fastify (`fallback`).
 * Returns whether it took the request (it may answer after a lookup, or hand it to `fallback` then).
 */
export function answerCachedPage(
  request: IncomingMessage,
  response: ServerResponse,
  pages: PageStore,
  metrics: IndexMetrics,
  fallback: (request: IncomingMessage, response: ServerResponse) => void,
  cacheControl: string,
): boolean {
  const method = request.method;
  if (method !== 'GET' && method !== 'HEAD') return false;
  const url = request.url ?? '';
  let route: string;
  let name: string;
  let contentType: string;
  let etagSuffix = '';
  let vary: string;
  let kind: 'simple-html' | 'simple-json' | 'json-api';
  let match = SIMPLE_PAGE.exec(url);
  if (match) {
    const format = formats.get(request.headers.accept);
    if (format === null) return false;
    route = '/simple/:project/';
    name = match[1]!;
    kind = format === SIMPLE_JSON ? 'simple-json' : 'simple-html';
    contentType = format === LEGACY_HTML ? 'text/html; charset=utf-8' : format;
    if (format === SIMPLE_HTML) etagSuffix = '-v';
    vary = 'Accept, Accept-Encoding';
  } else if ((match = JSON_API_PAGE.exec(url))) {
    route = '/pypi/:project/json';
    name = match[1]!;
    kind = 'json-api';
    contentType = 'application/json; charset=utf-8';
    vary = 'Accept-Encoding';
  } else {
    return false;
  }
  const acceptEncoding = request.headers['accept-encoding'];
  if (!gzipAccepted.get(Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding) || normalizeProjectName(name) !== name) return false;
  const cached = pages.cachedPage(name, kind);
  if (cached === null) return false;
  if (cached !== undefined) {
    writeStoredPage(request, response, cached, { route, contentType, etagSuffix, vary, cacheControl, surrogateKey: projectSurrogateKey(name) }, metrics);
    return true;
  }
  // Not cached: one indexed lookup, still without the framework. A page that does not exist
  // (a 404, a redirect to the normalised name) is the framework's to answer.
  pages.projectPage(name, kind).then(
    (page) => {
      if (page) writeStoredPage(request, response, page, { route, contentType, etagSuffix, vary, cacheControl, surrogateKey: projectSurrogateKey(name) }, metrics);
      else fallback(request, response);
    },
    () => fallback(request, response),
  );
  return true;
}

interface PageAnswer {
  route: string;
  cacheControl: string;
  surrogateKey: string;
  contentType: string;
  etagSuffix: string;
  vary: string;
}

function writeStoredPage(request: IncomingMessage, response: ServerResponse, page: StoredPage, answer: PageAnswer, metrics: IndexMetrics): void {
  const started = performance.now();
  const method = request.method!;
  const etag = `"${page.sha256.slice(0, 32)}${answer.etagSuffix}-gz"`;
  const headers: Record<string, string | number> = { Vary: answer.vary, ETag: etag, 'Cache-Control': answer.cacheControl, 'Surrogate-Key': answer.surrogateKey };
  let status = 200;
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatchMatches(ifNoneMatch, etag)) {
    status = 304;
    response.writeHead(304, headers);
    response.end();
  } else {
    headers['Content-Type'] = answer.contentType;
    headers['Content-Encoding'] = 'gzip';
    headers['Content-Length'] = page.gzip.length;
    response.writeHead(200, headers);
    if (method === 'HEAD') response.end();
    else response.end(page.gzip);
  }
  const seconds = (performance.now() - started) / 1000;
  metrics.recordRequest(method, answer.route, status, seconds);
}
