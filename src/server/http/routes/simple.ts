import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import { LEGACY_HTML, requireSimpleFormat, SIMPLE_HTML, SIMPLE_JSON } from '../../../formats/simple-api.ts';
import { answerConditional } from '../../../http/conditional.ts';
import { acceptsGzip } from '../../../http/content-encoding.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM } from '../../../http/param-schemas.ts';
import type { CairnServices } from '../../composition.ts';
import { pageCacheControl, projectSurrogateKey, ROOT_SURROGATE_KEY } from '../../pages/page-caching.ts';
import { sendStoredPage } from '../stored-page.ts';

/** A page by digest (a TUF target, PEP 458) never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const TARGET_FILE = /^(?:([0-9a-f]{64})\.)?index\.(html|json)$/;

/** PEP 503 / 691 simple repository API, served from the pages rendered on write. */
export async function simpleRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const chooseFormat = (accept: string | undefined, query: unknown) => requireSimpleFormat(accept, (query as { format?: string }).format);
  const { pages } = services;
  const SIMPLE_CACHE = pageCacheControl(services.config.pageCaching);

  app.get('/simple', async (_request, reply) => reply.redirect('/simple/', 301));

  // The root is kept as chunks of 1000 projects (deflate segments): the answer is the chunks in
  // order, as they are, gzip or not; nothing is rendered or compressed for a request.
  app.get('/simple/', async (request, reply) => {
    const format = chooseFormat(request.headers.accept, request.query);
    const roots = await pages.root();
    const document = format === SIMPLE_JSON ? roots.json : roots.html;
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    const etag = `"${document.etag}${format === SIMPLE_HTML ? '-v' : ''}${gzip ? '-gz' : ''}"`;
    reply.header('Vary', 'Accept, Accept-Encoding').header('ETag', etag).header('Cache-Control', SIMPLE_CACHE).header('Surrogate-Key', ROOT_SURROGATE_KEY);
    if (answerConditional(request, reply, etag)) return reply;
    const buffers = gzip ? document.gzip : document.identity;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'Content-Type': format === LEGACY_HTML ? 'text/html; charset=utf-8' : format,
      'Content-Length': String(gzip ? document.gzipLength : document.identityLength),
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    });
    if (request.method === 'HEAD') {
      raw.end();
      return;
    }
    raw.cork();
    for (const buffer of buffers) raw.write(buffer);
    raw.uncork();
    raw.end();
  });

  app.get<{ Params: { project: string } }>('/simple/:project', async (request, reply) =>
    reply.redirect(`/simple/${encodeURIComponent(request.params.project)}/`, 301),
  );

  app.get<{ Params: { project: string }; Querystring: { format?: string } }>(
    '/simple/:project/',
    { schema: { params: paramsSchema({ project: PROJECT_NAME_SPELLING_PARAM }) }, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const format = chooseFormat(request.headers.accept, request.query);
      const normalized = normalizeProjectName(request.params.project);
      if (normalized !== request.params.project) {
        const query = request.query.format ? `?format=${encodeURIComponent(request.query.format)}` : '';
        return reply.redirect(`/simple/${normalized}/${query}`, 301);
      }
      const page = await pages.projectPage(normalized, format === SIMPLE_JSON ? 'simple-json' : 'simple-html');
      if (!page) throw new CairnError('project.not_found', `no project named '${request.params.project}'`);
      return sendStoredPage(request, reply, pages, page, {
        contentType: format === LEGACY_HTML ? 'text/html; charset=utf-8' : format,
        etagSuffix: format === SIMPLE_HTML ? '-v' : '',
        cacheControl: SIMPLE_CACHE,
        vary: 'Accept, Accept-Encoding',
        surrogateKey: projectSurrogateKey(normalized),
      });
    },
  );

  // The simple pages as TUF targets (PEP 458): `simple/<project>/index.html` and `index.json`,
  // and with consistent snapshots `<sha256>.index.html`, which keeps answering for an hour after
  // the page changed, so a client holding slightly older metadata still gets the bytes it names.
  app.get<{ Params: { project: string; file: string } }>(
    '/simple/:project/:file',
    { schema: { params: paramsSchema({ project: PROJECT_NAME_SPELLING_PARAM }) }, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const match = TARGET_FILE.exec(request.params.file);
      const normalized = normalizeProjectName(request.params.project);
      if (!match || normalized !== request.params.project) throw new CairnError('request.not_found', `no route for GET ${request.url}`);
      const [, digest, extension] = match;
      const kind = extension === 'json' ? 'simple-json' : 'simple-html';
      const page = digest ? await pages.pageByDigest(normalized, kind, digest) : await pages.projectPage(normalized, kind);
      if (!page) throw new CairnError(digest ? 'request.not_found' : 'project.not_found', `no ${request.params.file} for '${request.params.project}'`);
      return sendStoredPage(request, reply, pages, page, {
        contentType: extension === 'json' ? SIMPLE_JSON : 'text/html; charset=utf-8',
        etagSuffix: '',
        cacheControl: digest ? IMMUTABLE : SIMPLE_CACHE,
        vary: 'Accept-Encoding',
        surrogateKey: projectSurrogateKey(normalized),
      });
    },
  );
}
