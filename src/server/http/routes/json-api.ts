import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import type { CairnServices } from '../../composition.ts';
import { buildProjectJson, chooseJsonApiRelease } from '../../pages/json-api.ts';
import { loadProjectSnapshot, releaseInfoJson, releaseProvenanceStates } from '../../pages/project-snapshot.ts';
import { paramsSchema, PROJECT_NAME_SPELLING_PARAM, VERSION_PARAM } from '../../../http/param-schemas.ts';

/** PyPI-compatible JSON API. */
export async function jsonApiRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const answer = async (name: string, version: string | undefined) => {
    const project = await services.index.findProject(name);
    if (!project) throw new CairnError('project.not_found', `no project named '${name}'`);
    const snapshot = await loadProjectSnapshot(services.db, project.id);
    if (!snapshot) throw new CairnError('project.not_found', `no project named '${name}'`);
    const release = chooseJsonApiRelease(snapshot, version);
    const info = await releaseInfoJson(services.db, release.id);
    const provenanceStates = releaseProvenanceStates(snapshot.releases, snapshot.files, snapshot.signersByFile);
    return buildProjectJson(snapshot, release, info, services.urls, { perVersion: version !== undefined, withProvenance: new Set(snapshot.signersByFile.keys()), provenanceStates });
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
