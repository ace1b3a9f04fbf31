import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import type { CairnServices } from '../../composition.ts';
import { buildProjectJson } from '../../pages/json-api.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM, VERSION_PARAM } from '../../../http/param-schemas.ts';

/** PyPI-compatible JSON API. */
export async function jsonApiRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const answer = async (name: string, version: string | undefined) => {
    const project = await services.index.findProject(name);
    if (!project) throw new CairnError('project.not_found', `no project named '${name}'`);
    const listing = await services.index.projectListing(project);
    const [provenance, provenanceStates] = await Promise.all([
      services.filesWithProvenance(listing.files.map((f) => f.id)),
      services.views.projectProvenanceStates(project.id, listing.releases, listing.files),
    ]);
    return buildProjectJson(listing, services.urls, { version, withProvenance: provenance, provenanceStates });
  };
  app.get<{ Params: { project: string } }>(
    '/pypi/:project/json',
    { schema: { params: paramsSchema({ project: PROJECT_NAME_SPELLING_PARAM }) }, config: { invalidInput: 'project.not_found' } },
    async (request, reply) => {
      const normalized = normalizeProjectName(request.params.project);
      if (normalized !== request.params.project) return reply.redirect(`/pypi/${normalized}/json`, 301);
      return reply.send(await answer(normalized, undefined));
    },
  );
  app.get<{ Params: { project: string; version: string } }>(
    '/pypi/:project/:version/json',
    {
      schema: { params: paramsSchema({ project: PROJECT_NAME_SPELLING_PARAM, version: VERSION_PARAM }) },
      // What the route answers once it has found the project and cannot read the version.
      config: { invalidInput: { '*': 'project.not_found', version: 'version.invalid' } },
    },
    async (request, reply) => reply.send(await answer(request.params.project, request.params.version)),
  );
}
