import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import type { CairnServices } from '../../composition.ts';
import { sendLegacyError, toCairnError } from '../../../http/errors.ts';
import { readUploadForm } from '../multipart-upload.ts';

/** Room for the metadata fields twine sends next to the file. */
const FORM_OVERHEAD_BYTES = 8 * 1024 * 1024;

/**
 * `POST /legacy/`: twine-compatible upload (PyPI's legacy upload API). Registered as a plugin of
 * its own, so its multipart parser, error handler and timing apply to this route alone.
 */
export async function uploadRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  // The body is streamed by the route itself, never buffered by fastify. Only here: a form sent
  // to any other route is refused like any content type that route does not read.
  app.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null));

  // twine shows the reason phrase, so every refusal here answers PyPI's way, whichever step made it.
  app.setErrorHandler((error, request, reply) => {
    services.metrics.uploads.inc({ outcome: toCairnError(error).code });
    return sendLegacyError(request, reply, error);
  });
  app.addHook('onResponse', async (_request, reply) => {
    services.metrics.uploadDuration.observe({ outcome: reply.statusCode < 400 ? 'accepted' : 'refused' }, reply.elapsedTime / 1000);
  });

  const upload = async (request: FastifyRequest, reply: FastifyReply) => {
    const limit = services.config.maxUploadBytes;
    const declared = Number(request.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > limit + FORM_OVERHEAD_BYTES) {
      throw new CairnError('upload.too_large', `File too large. Limit is ${limit} bytes`, { limit });
    }
    // Credentials first: an unauthenticated client is refused before its body is read.
    const principal = await services.tokens.authenticateUpload(request.headers.authorization, services.clock());
    const form = await readUploadForm(request.raw, request.headers, services.blobs, {
      maxFileBytes: limit,
      maxFieldBytes: 4 * 1024 * 1024,
      maxFields: 500,
    });
    const outcome = await services.uploads.upload(principal, form);
    services.metrics.uploads.inc({ outcome: outcome.status });
    request.log.info({ filename: outcome.filename, status: outcome.status }, 'upload accepted');
    return reply.code(200).type('application/json').send({ status: outcome.status, filename: outcome.filename, sha256: outcome.sha256 });
  };
  app.post('/legacy/', upload);
  app.post('/legacy', upload);
}
