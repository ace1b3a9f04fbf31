import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { INTEGRITY_MEDIA_TYPE } from '../../../formats/provenance-object.ts';
import type { CairnServices } from '../../composition.ts';
import { provenanceObjectOfFile } from '../../provenance/attestation-store.ts';
import { toCairnError } from '../../../http/errors.ts';

/** Build-provenance pre-submission (DESIGN §3) and the PEP 740 integrity API. */
export async function provenanceRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const pending = services.pendingProvenance;
  app.post(
    '/_/provenance',
    {
      bodyLimit: 2 * 1024 * 1024,
      // A body of another type hears what to send, before anything judges its content.
      preValidation: async (request) => {
        if (!request.headers['content-type']?.startsWith('application/json')) {
          throw new CairnError('provenance.malformed', 'send the submission as application/json');
        }
      },
      // Every refusal counts, whichever step made it (content type, size, verification).
      onError: async (_request, _reply, error) => {
        services.metrics.provenanceSubmissions.inc({ outcome: toCairnError(error).code });
      },
    },
    async (request, reply) => {
      const result = await pending.submit(request.body);
      services.metrics.provenanceSubmissions.inc({ outcome: result.status });
      return reply.send(result);
    },
  );

  app.get<{ Params: { project: string; version: string; filename: string } }>(
    '/integrity/:project/:version/:filename/provenance',
    async (request, reply) => {
      const { project, version, filename } = request.params;
      const file = await services.index.fileInRelease(project, version, filename);
      if (!file) throw new CairnError('file.not_found', `no file ${filename} in ${project} ${version}`);
      const provenance = await provenanceObjectOfFile(services.db, file.id);
      if (!provenance) throw new CairnError('file.not_found', `${filename} has no provenance`);
      return reply.type(INTEGRITY_MEDIA_TYPE).send(provenance);
    },
  );
}
