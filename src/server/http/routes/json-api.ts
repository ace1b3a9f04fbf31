import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM, VERSION_PARAM } from '../../../http/param-schemas.ts';
import type { CairnServices } from '../../composition.ts';
import { pageCacheControl, projectSurrogateKey } from '../../pages/page-caching.ts';
import { sendStoredPage } from '../stored-page.ts';

/** PyPI-compatible JSON API: `/pypi/<project>/json` is rendered on write; per-version documents on request. */
export async function jsonApiRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const { pages } = services;
  app.get<{ Params: { project: string } }>(
    '/pypi/:project/json',
    { schema: { params: paramsSchema({ project: PROJECT_NAME_SPELLING_PARAM }) }, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const normalized = normalizeProjectName(request.params.project);
      if (normalized !== request.params.project) return reply.redirect(`/pypi/${normalized}/json`, 301);
      const page = await pages.projectPage(normalized, 'json-api');
      if (!page) {
        // A project without releases has simple pages but no JSON document (PyPI answers 404 too).
        const exists = await pages.projectPage(normalized, 'simple-html');
        if (!exists) throw new CairnError('project.not_found', `no project named '${request.params.project}'`);
        throw new CairnError('release.not_found', `project '${normalized}' has no releases`);
      }
      return sendStoredPage(request, reply, pages, page, {
        contentType: 'application/json; charset=utf-8',
        etagSuffix: '',
        cacheControl: pageCacheControl(services.config.pageCaching),
        vary: 'Accept-Encoding',
        surrogateKey: projectSurrogateKey(normalized),
      });
    },
  );
  app.get<{ Params: { project: string; version: string } }>(
    '/pypi/:project/:version/json',
    {
      schema: { params: paramsSchema({ project: PROJECT_NAME_SPELLING_PARAM, version: VERSION_PARAM }) },
      // What the route answers once it has found the project and cannot read the version.
      config: { invalidInput: { '*': 'project.not_found', version: 'version.invalid' } },
    },
    async (request, reply) => reply.send(await services.views.releaseJsonDocument(request.params.project, request.params.version)),
  );
}
