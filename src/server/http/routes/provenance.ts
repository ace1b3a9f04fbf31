import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import type { ReceivedJson } from '../../../formats/json-source.ts';
import { INTEGRITY_MEDIA_TYPE } from '../../../formats/provenance-object.ts';
import type { CairnServices } from '../../composition.ts';
import type { PendingProvenanceService } from '../../provenance/pending-provenance.ts';
import { sendError, toCairnError } from '../../../http/errors.ts';

export const PROVENANCE_BODY_LIMIT = 2 * 1024 * 1024;

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
async function provenanceSubmissionRoute(app: FastifyInstance, services: CairnServices, pending: PendingProvenanceService): Promise<void> {
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

  app.post<{ Body: ReceivedJson }>('/_/provenance', { bodyLimit: PROVENANCE_BODY_LIMIT }, async (request, reply) => {
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
}

/** Build-provenance pre-submission (DESIGN §3) and the PEP 740 integrity API. */
export async function provenanceRoutes(app: FastifyInstance, services: CairnServices, pending: PendingProvenanceService): Promise<void> {
  // Its own scope, so its content-type parser applies to this route alone.
  await app.register(async (scope) => provenanceSubmissionRoute(scope, services, pending));

  app.get<{ Params: { project: string; version: string; filename: string } }>(
    '/integrity/:project/:version/:filename/provenance',
    async (request, reply) => {
      try {
        const { project, version, filename } = request.params;
        const file = await services.index.fileInRelease(project, version, filename);
        if (!file) throw new CairnError('file.not_found', `no file ${filename} in ${project} ${version}`);
        // Sent as text: the stored attestations are spliced in as received, not re-serialised.
        const provenance = await services.attestations.provenanceObjectText(file.id);
        if (!provenance) throw new CairnError('file.not_found', `${filename} has no provenance`);
        return reply.type(INTEGRITY_MEDIA_TYPE).send(provenance);
      } catch (error) {
        return sendError(request, reply, error);
      }
    },
  );
}
