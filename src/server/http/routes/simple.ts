import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import {
  INDEX_HTML_TAIL,
  requireSimpleFormat,
  renderIndexHtmlEntry,
  renderIndexHtmlHead,
  SIMPLE_API_VERSION,
  SIMPLE_JSON,
} from '../../../formats/simple-api.ts';
import type { CairnServices } from '../../composition.ts';
import { answerConditional } from '../../../http/conditional.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM } from '../../../http/param-schemas.ts';

/** PEP 503 / 691 simple repository API. */
export async function simpleRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const chooseFormat = (accept: string | undefined, query: unknown) => requireSimpleFormat(accept, (query as { format?: string }).format);

  app.get('/simple', async (_request, reply) => reply.redirect('/simple/', 301));

  app.get('/simple/', async (request, reply) => {
    const format = chooseFormat(request.headers.accept, request.query);
    reply.header('Vary', 'Accept').type(format === SIMPLE_JSON ? SIMPLE_JSON : format);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, reply.getHeaders() as Record<string, string>);
    // Streamed page by page so the root never exists whole in memory (10k+ projects).
    const write = (chunk: string) => (raw.write(chunk) ? Promise.resolve() : new Promise<void>((r) => raw.once('drain', r)));
    try {
      if (format === SIMPLE_JSON) {
        await write(`{"meta":{"api-version":"${SIMPLE_API_VERSION}"},"projects":[`);
        let first = true;
        for await (const page of services.index.projectNames()) {
          let chunk = '';
          for (const p of page) {
            chunk += `${first ? '' : ','}${JSON.stringify({ name: p.name })}`;
            first = false;
          }
          await write(chunk);
        }
        await write(']}');
      } else {
        await write(renderIndexHtmlHead());
        for await (const page of services.index.projectNames()) {
          await write(page.map((p) => renderIndexHtmlEntry(p.name, p.normalized_name)).join(''));
        }
        await write(INDEX_HTML_TAIL);
      }
    } catch (error) {
      request.log.error({ err: error }, 'streaming /simple/ failed');
      raw.destroy();
      return;
    }
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
      const result = await services.simplePages.projectPage(request.params.project, format);
      if (result.kind === 'redirect') {
        const query = request.query.format ? `?format=${encodeURIComponent(request.query.format)}` : '';
        return reply.redirect(`/simple/${result.normalizedName}/${query}`, 301);
      }
      if (result.kind === 'not_found') {
        throw new CairnError('project.not_found', `no project named '${request.params.project}'`);
      }
      reply.header('Vary', 'Accept').header('ETag', result.etag).header('Cache-Control', 'max-age=60, public');
      if (answerConditional(request, reply, result.etag)) return reply;
      return reply.type(format).send(result.body);
    },
  );
}
