import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { normalizeProjectName } from '../../../formats/project-name.ts';
import type { CairnServices } from '../../composition.ts';
import { buildProjectJson, chooseJsonApiRelease } from '../../pages/json-api.ts';
import { loadProjectSnapshot, releaseInfoJson, releaseProvenanceStates } from '../../pages/project-snapshot.ts';
import { sendError } from '../../../http/errors.ts';

/** PyPI-compatible JSON API. */
export async function jsonApiRoutes(app: FastifyInstance, services: CairnServices): Promise<void> {
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
  app.get<{ Params: { project: string } }>('/pypi/:project/json', async (request, reply) => {
    try {
      const normalized = normalizeProjectName(request.params.project);
      if (normalized !== request.params.project) return reply.redirect(`/pypi/${normalized}/json`, 301);
      return reply.send(await answer(normalized, undefined));
    } catch (error) {
      return sendError(request, reply, error);
    }
  });
  app.get<{ Params: { project: string; version: string } }>('/pypi/:project/:version/json', async (request, reply) => {
    try {
      return reply.send(await answer(request.params.project, request.params.version));
    } catch (error) {
      return sendError(request, reply, error);
    }
  });
}
