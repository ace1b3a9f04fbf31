import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpStatusFor } from '../../../errors.ts';
import { normalizeVersion } from '../../../formats/pep440.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import type { CairnServices } from '../../composition.ts';
import { homePage } from '../../ui/pages/home.ts';
import type { PageContext } from '../../ui/pages/layout.ts';
import { notFoundPage } from '../../ui/pages/not-found.ts';
import { projectPage } from '../../ui/pages/project.ts';
import { releasePage } from '../../ui/pages/release.ts';
import { searchPage } from '../../ui/pages/search.ts';
import { answerConditional } from '../../../http/conditional.ts';
import { sendError, toCairnError } from '../../../http/errors.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM, VERSION_PARAM } from '../../../http/param-schemas.ts';
import { publicBaseUrl } from '../../../http/public-url.ts';

/**
 * No inline script or style may run: package metadata is attacker-controlled, so even if an
 * escaping bug let markup through, the browser would refuse to execute it. Images may come from
 * https origins because project descriptions embed badges and screenshots.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface StaticAsset {
  body: Buffer;
  type: string;
  version: string;
}

function loadStaticAssets(): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  const files: [string, string][] = [
    ['cairn.css', 'text/css; charset=utf-8'],
    ['cairn.js', 'text/javascript; charset=utf-8'],
  ];
  for (const [name, type] of files) {
    const body = readFileSync(new URL(`../../ui/static/${name}`, import.meta.url));
    assets.set(name, { body, type, version: createHash('sha256').update(body).digest('hex').slice(0, 12) });
  }
  return assets;
}

function setPageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('Content-Security-Policy', UI_CONTENT_SECURITY_POLICY)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'strict-origin-when-cross-origin')
    .header('X-Frame-Options', 'DENY')
    .header('Cache-Control', 'no-cache');
}

function firstString(value: unknown): string {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : '';
  return typeof value === 'string' ? value : '';
}

/** Web UI (DESIGN §3): server-rendered pages that work without JavaScript. */
export async function uiRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const assets = loadStaticAssets();
  const assetUrl = (name: string) => `/static/${name}?v=${assets.get(name)!.version}`;

  const devTrustBase = (): string | null => services.devTrustBaseUrl();
  const context = (request: FastifyRequest): PageContext => ({
    // Commands readers copy must name the index as they reach it; a configured base URL wins.
    baseUrl: publicBaseUrl(request, services.config.baseUrl),
    assets: { css: assetUrl('cairn.css'), js: assetUrl('cairn.js') },
    devTrustBase: devTrustBase(),
  });

  const page = (reply: FastifyReply, status: number, body: string) =>
    setPageHeaders(reply).code(status).type('text/html; charset=utf-8').send(body);
  const notFound = (request: FastifyRequest, reply: FastifyReply, what: string) => page(reply, 404, notFoundPage(context(request), what));

  // A reader who followed a bad link gets a page, not JSON; other failures answer as every route does.
  app.setErrorHandler((error, request, reply) => {
    const failure = toCairnError(error);
    if (httpStatusFor(failure.code) === 404) return notFound(request, reply, failure.message);
    return sendError(request, reply, error);
  });

  app.get('/', async (request, reply) => page(reply, 200, homePage(context(request), await services.views.homePageData())));

  app.get('/search', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const q = firstString(query.q);
    const pageNumber = Math.min(10_000, Math.max(1, Number.parseInt(firstString(query.page), 10) || 1));
    return page(reply, 200, searchPage(context(request), await services.views.searchProjects(q, pageNumber)));
  });

  app.get<{ Params: { name: string } }>('/project/:name', async (request, reply) =>
    reply.redirect(`/project/${encodeURIComponent(request.params.name)}/`, 301),
  );

  app.get<{ Params: { name: string } }>(
    '/project/:name/',
    { schema: { params: paramsSchema({ name: PROJECT_NAME_SPELLING_PARAM }) }, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const { name } = request.params;
      const normalized = normalizeProjectName(name);
      if (normalized !== name) return reply.redirect(`/project/${encodeURIComponent(normalized)}/`, 301);
      const data = await services.views.projectPageData(normalized);
      if (!data) return notFound(request, reply, `There is no project named “${name}”.`);
      return page(reply, 200, projectPage(context(request), data));
    },
  );

  app.get<{ Params: { name: string; version: string } }>('/project/:name/:version', async (request, reply) =>
    reply.redirect(`/project/${encodeURIComponent(request.params.name)}/${encodeURIComponent(request.params.version)}/`, 301),
  );

  app.get<{ Params: { name: string; version: string } }>(
    '/project/:name/:version/',
    {
      schema: { params: paramsSchema({ name: PROJECT_NAME_SPELLING_PARAM, version: VERSION_PARAM }) },
      config: { invalidInput: { '*': 'project.not_found', version: 'release.not_found' } },
    },
    async (request, reply) => {
      const { name, version } = request.params;
      let normalizedVersion: string;
      try {
        normalizedVersion = normalizeVersion(version);
      } catch {
        return notFound(request, reply, `“${version}” is not a valid version.`);
      }
      const normalized = normalizeProjectName(name);
      if (normalized !== name || normalizedVersion !== version) {
        return reply.redirect(`/project/${encodeURIComponent(normalized)}/${encodeURIComponent(normalizedVersion)}/`, 301);
      }
      const data = await services.views.releasePageData(normalized, normalizedVersion);
      if (!data) return notFound(request, reply, `Project “${name}” has no release ${version}.`);
      return page(reply, 200, releasePage(context(request), data, { urls: services.urls, devTrustBase: devTrustBase() }));
    },
  );

  app.get<{ Params: { file: string }; Querystring: { v?: string } }>('/static/:file', async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (!asset) return notFound(request, reply, 'No such file.');
    const etag = `"${asset.version}"`;
    reply
      .header('X-Content-Type-Options', 'nosniff')
      .header('ETag', etag)
      // Pages link assets by content hash, so a versioned URL never changes meaning.
      .header('Cache-Control', request.query.v === asset.version ? 'public, max-age=31536000, immutable' : 'public, max-age=300');
    if (answerConditional(request, reply, etag)) return reply;
    return reply.type(asset.type).send(asset.body);
  });
}
