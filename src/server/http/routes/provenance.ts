import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { INTEGRITY_MEDIA_TYPE } from '../../../formats/provenance-object.ts';
import type { CairnServices } from '../../composition.ts';
import { provenanceObjectOfFile } from '../../provenance/attestation-store.ts';
import { toCairnError } from '../../../http/errors.ts';
import { DIST_FILENAME_PARAM, paramsSchema, PROJECT_NAME_SPELLING_PARAM, SHA256_PARAM, VERSION_PARAM } from '../../../http/param-schemas.ts';

/**
 * The submission's shape (DESIGN §3). Only the shape: the filename's validity (`filename.invalid`),
 * each attestation and the per-submission cap are the service's to judge, with their own codes.
 */
export const PROVENANCE_SUBMISSION_BODY = {
  type: 'object',
  description: 'a JSON object {filename, sha256, attestations}',
  required: ['filename', 'sha256', 'attestations'],
  properties: {
    filename: { type: 'string', description: 'a string, the distribution filename' },
    sha256: SHA256_PARAM,
    attestations: { type: 'array', minItems: 1, description: 'a non-empty array of PEP 740 attestation objects' },
  },
} as const;

/** Build-provenance pre-submission (DESIGN §3) and the PEP 740 integrity API. */
export async function provenanceRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const pending = services.pendingProvenance;
  app.post(
    '/_/provenance',
    {
      bodyLimit: 2 * 1024 * 1024,
      schema: { body: PROVENANCE_SUBMISSION_BODY },
      config: { invalidInput: 'provenance.malformed' },
      // Before the schema, so a form or a text body hears what to send rather than what it lacks.
      preValidation: async (request) => {
        if (!request.headers['content-type']?.startsWith('application/json')) {
          throw new CairnError('provenance.malformed', 'send the submission as application/json');
        }
      },
      // Every refusal counts, whichever step made it (content type, size, schema, verification).
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
    {
      schema: { params: paramsSchema({ project: PROJECT_NAME_SPELLING_PARAM, version: VERSION_PARAM, filename: DIST_FILENAME_PARAM }) },
      config: { invalidInput: 'file.not_found' },
    },
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
