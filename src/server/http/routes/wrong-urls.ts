import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { sendLegacyError } from '../../../http/errors.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM } from '../../../http/param-schemas.ts';
import { publicBaseUrl } from '../../../http/public-url.ts';
import type { CairnServices } from '../../composition.ts';

/**
 * The URLs people give the wrong tool, answered with the right one. cairn has three: the base
 * URL (`--index` of cairn's own commands), `BASE/legacy/` (twine's `--repository-url`) and
 * `BASE/simple/` (pip's `--index-url`). Each tool otherwise sees a bare 404, which twine prints
 * without a hint and pip turns into "no matching distribution".
 */
export async function wrongUrlRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const base = (request: FastifyRequest) => publicBaseUrl(request, services.config.baseUrl);

  // twine --repository-url BASE (or BASE/simple/) posts its upload there. Answered before the body
  // is read (the refusal lingers for the rest of it), in the reason phrase twine prints.
  const uploadGoesToLegacy = async (request: FastifyRequest, reply: FastifyReply) => {
    const legacy = `${base(request)}/legacy/`;
    return sendLegacyError(
      request,
      reply,
      new CairnError('request.wrong_url', `${request.url} is not the upload URL: uploads go to ${legacy} (twine upload --repository-url ${legacy})`),
    );
  };
  for (const path of ['/', '/simple', '/simple/']) {
    app.post(path, { onRequest: uploadGoesToLegacy }, async () => undefined);
  }

  // pip --index-url BASE (or BASE/legacy/) asks for BASE/NAME/. An installer is sent on to the
  // simple page it meant (pip and uv follow redirects for index pages); anyone else is told.
  const installerAsked = (request: FastifyRequest) =>
    /application\/vnd\.pypi\.simple/.test(request.headers.accept ?? '') || /^(pip|uv)\//.test(request.headers['user-agent'] ?? '');
  const simplePageFor = async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const name = encodeURIComponent(request.params.name);
    if (installerAsked(request)) return reply.redirect(`/simple/${name}/`, 301);
    throw new CairnError(
      'request.wrong_url',
      `no page at ${request.url}: the project page is ${base(request)}/project/${name}/, and pip's index URL is ${base(request)}/simple/ (pip install --index-url ${base(request)}/simple/ ${name})`,
    );
  };
  const schema = { params: paramsSchema({ name: PROJECT_NAME_SPELLING_PARAM }) };
  app.get<{ Params: { name: string } }>('/:name/', { schema, config: { invalidInput: 'request.not_found' } }, simplePageFor);
  app.get<{ Params: { name: string } }>('/legacy/:name/', { schema, config: { invalidInput: 'request.not_found' } }, simplePageFor);
}
