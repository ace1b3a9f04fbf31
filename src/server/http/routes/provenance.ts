import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import type { ReceivedJson } from '../../../formats/json-source.ts';
import { INTEGRITY_MEDIA_TYPE } from '../../../formats/provenance-object.ts';
import type { CairnServices } from '../../composition.ts';
import { toCairnError } from '../../../http/errors.ts';
import { DIST_FILENAME_PARAM, paramsSchema, PROJECT_NAME_SPELLING_PARAM, SHA256_PARAM, VERSION_PARAM } from '../../../http/param-schemas.ts';

export const PROVENANCE_BODY_LIMIT = 2 * 1024 * 1024;

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

/** RFC 8259 §8.1: JSON exchanged between systems is UTF-8; `fatal` refuses bytes that are not, instead of replacing them. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** fastify's default JSON parser in its callback form (what `getDefaultJsonParser` returns). */
type JsonTextParser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => void;

/**
 * `POST /_/provenance` keeps the body's text next to its parsed value: DESIGN §4 stores each
 * attestation byte for byte as received, and only the text says what the bytes were. Parsing is
 * fastify's own (JSON.parse with its prototype-poisoning refusals), so what is accepted and the
 * errors for what is not stay those of every other JSON route.
 */
async function provenanceSubmissionRoute(app: FastifyInstance, services: CairnServices): Promise<void> {
  const parseJson = app.getDefaultJsonParser('error', 'error') as JsonTextParser;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      done(new CairnError('provenance.malformed', 'the body is not UTF-8 text (RFC 8259 §8.1)'), undefined);
      return;
    }
    parseJson(request, text, (error, value) => (error ? done(error, undefined) : done(null, { value, text } satisfies ReceivedJson)));
  });

  app.post<{ Body: ReceivedJson }>(
    '/_/provenance',
    {
      bodyLimit: PROVENANCE_BODY_LIMIT,
      // The parser hands the route {value, text}: the schema checks the parsed value.
      schema: { body: { type: 'object', required: ['value'], properties: { value: PROVENANCE_SUBMISSION_BODY } } },
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
      const result = await services.pendingProvenance.submit(request.body);
      services.metrics.provenanceSubmissions.inc({ outcome: result.status });
      return reply.send(result);
    },
  );
}

/** Build-provenance pre-submission (DESIGN §3) and the PEP 740 integrity API. */
export async function provenanceRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  // Its own scope, so its content-type parser applies to this route alone.
  await app.register(async (scope) => provenanceSubmissionRoute(scope, services));

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
      // Sent as text: the stored attestations are spliced in as received, not re-serialised.
      const provenance = await services.attestations.provenanceObjectText(file.id);
      if (!provenance) throw new CairnError('file.not_found', `${filename} has no provenance`);
      return reply.type(INTEGRITY_MEDIA_TYPE).send(provenance);
    },
  );
}
