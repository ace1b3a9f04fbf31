import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeProjectName } from '../../formats/project-name.ts';
import { negotiateSimpleFormat, SIMPLE_HTML, SIMPLE_JSON } from '../../formats/simple-api.ts';
import { ifNoneMatchMatches } from '../../http/conditional.ts';
import { acceptsGzip } from '../../http/content-encoding.ts';
import type { IndexMetrics } from '../metrics.ts';
import type { PageStore, StoredPage } from '../pages/page-store.ts';
import type { PageKind } from '../storage/schema.ts';
import { recordInto, type RequestSeries } from '../request-metrics.ts';
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

/** What an answer to one of the four cached-page requests carries beside the page's bytes. */
interface PageAnswer {
  route: string;
  contentType: string;
  etagSuffix: string;
  vary: string;
}

const SIMPLE_ROUTE = '/simple/:project/';
const JSON_API_ROUTE = '/pypi/:project/json';
const VARY_SIMPLE = 'Accept, Accept-Encoding';
/** Indexed by `AnswerVariant`. */
const ANSWERS: readonly PageAnswer[] = [
  { route: SIMPLE_ROUTE, contentType: SIMPLE_HTML, etagSuffix: '-v', vary: VARY_SIMPLE },
  { route: SIMPLE_ROUTE, contentType: 'text/html; charset=utf-8', etagSuffix: '', vary: VARY_SIMPLE },
  { route: SIMPLE_ROUTE, contentType: SIMPLE_JSON, etagSuffix: '', vary: VARY_SIMPLE },
  { route: JSON_API_ROUTE, contentType: 'application/json; charset=utf-8', etagSuffix: '', vary: 'Accept-Encoding' },
];
const AnswerVariant = { SimpleHtml: 0, LegacyHtml: 1, SimpleJson: 2, JsonApi: 3 } as const;
type AnswerVariant = (typeof AnswerVariant)[keyof typeof AnswerVariant];

export type CachedPageAnswerer = (
  request: IncomingMessage,
  response: ServerResponse,
  fallback: (request: IncomingMessage, response: ServerResponse) => void,
) => boolean;

/**
 * The answer most requests to an index get — a project's simple page or JSON document, cached,
 * to a client that takes gzip (pip, uv, browsers) — written without the framework's routing and
 * hooks, which cost more per request than the answer itself. The bytes, headers and metrics are
 * those the fastify routes (routes/simple.ts, routes/json-api.ts via stored-page.ts) produce;
 * a page not yet cached is read with one indexed lookup; anything else (a page that does not
 * exist, a redirect, a query, no gzip, a 406, any other path) goes to fastify (`fallback`).
 * The answerer returns whether it took the request (it may answer after a lookup, or hand it to
 * `fallback` then).
 */
export function cachedPageAnswerer(pages: PageStore, metrics: IndexMetrics, cacheControl: string): CachedPageAnswerer {
  const series = new Map<string, RequestSeries>();
  const seriesOf = (method: string, route: string, status: number): RequestSeries => {
    const key = `${method} ${route} ${status}`;
    let found = series.get(key);
    if (!found) series.set(key, (found = metrics.requests.seriesOf(method, route, status)));
    return found;
  };
  const getOk = ANSWERS.map((answer) => seriesOf('GET', answer.route, 200));

  function write(request: IncomingMessage, response: ServerResponse, page: StoredPage, name: string, variant: AnswerVariant): void {
    const started = performance.now();
    const method = request.method!;
    const { contentType, etagSuffix, vary } = ANSWERS[variant]!;
    // Built per answer: kept per cached page, they cost more memory than the page's bytes.
    const etag = `"${page.sha256.slice(0, 32)}${etagSuffix}-gz"`;
    const headers = ['Vary', vary, 'ETag', etag, 'Cache-Control', cacheControl, 'Surrogate-Key', projectSurrogateKey(name)];
    let status = 200;
    const ifNoneMatch = request.headers['if-none-match'];
    if (ifNoneMatch !== undefined && ifNoneMatchMatches(ifNoneMatch, etag)) {
      // A 304 carries the validators and caching headers, not the content's.
      status = 304;
      response.writeHead(304, headers);
      response.end();
    } else {
      headers.push('Content-Type', contentType, 'Content-Encoding', 'gzip', 'Content-Length', String(page.gzip.length));
      response.writeHead(200, headers);
      if (method === 'HEAD') response.end();
      else response.end(page.gzip);
    }
    const seconds = (performance.now() - started) / 1000;
    recordInto(method === 'GET' && status === 200 ? getOk[variant]! : seriesOf(method, ANSWERS[variant]!.route, status), seconds);
  }

  return (request, response, fallback) => {
    const method = request.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = request.url ?? '';
    let name: string;
    let kind: PageKind;
    let variant: AnswerVariant;
    let match = SIMPLE_PAGE.exec(url);
    if (match) {
      const format = formats.get(request.headers.accept);
      if (format === null) return false;
      name = match[1]!;
      if (format === SIMPLE_JSON) {
        kind = 'simple-json';
        variant = AnswerVariant.SimpleJson;
      } else {
        kind = 'simple-html';
        variant = format === SIMPLE_HTML ? AnswerVariant.SimpleHtml : AnswerVariant.LegacyHtml;
      }
    } else if ((match = JSON_API_PAGE.exec(url))) {
      name = match[1]!;
      kind = 'json-api';
      variant = AnswerVariant.JsonApi;
    } else {
      return false;
    }
    const acceptEncoding = request.headers['accept-encoding'];
    if (!gzipAccepted.get(Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding)) return false;
    // The cache holds normalised names only, so a name it knows needs no normalising.
    const cached = pages.cachedPage(name, kind);
    if (cached === null) return false;
    if (cached !== undefined) {
      write(request, response, cached, name, variant);
      return true;
    }
    if (normalizeProjectName(name) !== name) return false;
    // Not cached: one indexed lookup, still without the framework. A page that does not exist
    // (a 404, a redirect to the normalised name) is the framework's to answer.
    pages.projectPage(name, kind).then(
      (page) => {
        if (page) write(request, response, page, name, variant);
        else fallback(request, response);
      },
      () => fallback(request, response),
    );
    return true;
  };
}
