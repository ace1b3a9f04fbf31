import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { INTEGRITY_MEDIA_TYPE } from '../../../formats/provenance-object.ts';
import type { CairnServices } from '../../composition.ts';
import type { PendingProvenanceService } from '../../provenance/pending-provenance.ts';
import { sendError, toCairnError } from '../../../http/errors.ts';

/** Build-provenance pre-submission (DESIGN §3) and the PEP 740 integrity API. */
export async function provenanceRoutes(app: FastifyInstance, services: CairnServices, pending: PendingProvenanceService): Promise<void> {
  app.post('/_/provenance', { bodyLimit: 2 * 1024 * 1024 }, async (request, reply) => {
    try {
      if (!request.headers['content-type']?.startsWith('application/json')) {
        throw new CairnError('provenance.malformed', 'send the submission as application/json');
      }
      const result = await pending.submit(request.body);
      services.metrics.provenanceSubmissions.inc({ outcome: result.status });
      return reply.send(result);
    } catch (error) {
      services.metrics.provenanceSubmissions.inc({ outcome: toCairnError(error).code });
      return sendError(request, reply, error);
    }
  });

  app.get<{ Params: { project: string; version: string; filename: string } }>(
    '/integrity/:project/:version/:filename/provenance',
    async (request, reply) => {
      try {
        const { project, version, filename } = request.params;
        const file = await services.index.fileInRelease(project, version, filename);
        if (!file) throw new CairnError('file.not_found', `no file ${filename} in ${project} ${version}`);
        const provenance = await services.attestations.provenanceObjectOfFile(file.id);
        if (!provenance) throw new CairnError('file.not_found', `${filename} has no provenance`);
        return reply.type(INTEGRITY_MEDIA_TYPE).send(provenance);
      } catch (error) {
        return sendError(request, reply, error);
      }
    },
  );
}
