import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import type { CairnServices } from '../../composition.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM } from '../../../http/param-schemas.ts';
import { publicBaseUrl } from '../../../http/public-url.ts';

/** RSS feeds at PyPI's paths (`/rss/updates.xml`, `/rss/packages.xml`, `/rss/project/{name}/releases.xml`). */
export async function rssRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  // Feed readers follow the links, so they must name the index as clients reach it.
  const baseUrl = (request: FastifyRequest) => publicBaseUrl(request, services.config.baseUrl);
  const feed = (reply: FastifyReply, xml: string) =>
    reply.header('Cache-Control', 'public, max-age=60').header('X-Content-Type-Options', 'nosniff').type('application/rss+xml; charset=utf-8').send(xml);

  app.get('/rss/updates.xml', async (request, reply) => feed(reply, await services.feeds.updatesFeed(baseUrl(request))));

  app.get('/rss/packages.xml', async (request, reply) => feed(reply, await services.feeds.packagesFeed(baseUrl(request))));

  app.get<{ Params: { name: string } }>(
    '/rss/project/:name/releases.xml',
    { schema: { params: paramsSchema({ name: PROJECT_NAME_SPELLING_PARAM }) }, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const { name } = request.params;
      const normalized = normalizeProjectName(name);
      if (normalized !== name) return reply.redirect(`/rss/project/${encodeURIComponent(normalized)}/releases.xml`, 301);
      const xml = await services.feeds.projectReleasesFeed(baseUrl(request), normalized);
      if (xml === undefined) throw new CairnError('project.not_found', `no project named '${name}'`);
      return feed(reply, xml);
    },
  );
}
