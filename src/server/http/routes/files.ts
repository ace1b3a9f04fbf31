import type { FastifyInstance } from 'fastify';
import { CairnError } from '../../../errors.ts';
import { statusServesFiles } from '../../../formats/project-status.ts';
import type { CairnServices } from '../../composition.ts';
import { answerConditional } from '../../../http/conditional.ts';
import { DIST_FILENAME_PARAM, paramsSchema, SHA256_PARAM } from '../../../http/param-schemas.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** PEP 658: a file's core metadata is served at its URL plus this suffix. */
const METADATA_SUFFIX = '.metadata';

/** Parses a single `bytes=` range (RFC 9110 §14.1.2); null means "serve the whole file". */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null; // multiple or malformed ranges: ignoring Range is allowed
  const [, from, to] = match;
  if (from === '' && to === '') return null;
  let start: number;
  let end: number;
  if (from === '') {
    const suffix = Number(to);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(from);
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

/** Immutable distribution downloads and their PEP 658 core metadata. */
export async function fileRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  app.route<{ Params: { sha256: string; filename: string } }>({
    method: ['GET', 'HEAD'],
    url: '/files/:sha256/:filename',
    exposeHeadRoute: false,
    schema: {
      params: paramsSchema({
        sha256: SHA256_PARAM,
        filename: { ...DIST_FILENAME_PARAM, maxLength: DIST_FILENAME_PARAM.maxLength + METADATA_SUFFIX.length },
      }),
    },
    // A URL that cannot name a stored file names no file.
    config: { invalidInput: 'file.not_found' },
    handler: async (request, reply) => {
      const { sha256 } = request.params;
      let { filename } = request.params;
      const wantsMetadata = filename.endsWith(METADATA_SUFFIX);
      if (wantsMetadata) filename = filename.slice(0, -METADATA_SUFFIX.length);
      const file = await services.index.fileByName(filename);
      if (!file || file.sha256 !== sha256) throw new CairnError('file.not_found', `no file ${filename} with sha256 ${sha256}`);
      const status = await services.index.projectStatusOf(file.project_id);
      if (!statusServesFiles(status.status)) {
        throw new CairnError('file.quarantined', `${filename} belongs to the quarantined project '${status.name}'${status.reason ? ` (${status.reason})` : ''}; PEP 792 forbids serving it`);
      }

      if (wantsMetadata) {
        const metadata = await services.index.coreMetadataOf(filename);
        const etag = `"${file.core_metadata_sha256}"`;
        reply.header('ETag', etag).header('Cache-Control', IMMUTABLE);
        if (answerConditional(request, reply, etag)) return reply;
        return reply.type('text/plain; charset=utf-8').send(metadata);
      }

      const etag = `"${file.sha256}"`;
      reply
        .header('ETag', etag)
        .header('Cache-Control', IMMUTABLE)
        .header('Accept-Ranges', 'bytes')
        .header('Content-Disposition', `attachment; filename="${filename.replace(/["\\]/g, '_')}"`)
        .type('application/octet-stream');
      if (answerConditional(request, reply, etag)) return reply;
      // Object storage may hand the bytes out itself (a presigned URL); a HEAD is answered here.
      const elsewhere = request.method === 'GET' ? await services.blobs.downloadUrl(file.sha256, filename) : null;
      if (elsewhere !== null) return reply.code(302).header('Location', elsewhere).header('Cache-Control', 'private, no-store').send();
      const range = parseRange(request.headers.range, file.size);
      if (range === 'unsatisfiable') {
        return reply.code(416).header('Content-Range', `bytes */${file.size}`).send();
      }
      if (range) {
        reply.code(206).header('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`).header('Content-Length', range.end - range.start + 1);
        if (request.method === 'HEAD') return reply.send();
        return reply.send(await services.blobs.read(file.sha256, range));
      }
      reply.header('Content-Length', file.size);
      if (request.method === 'HEAD') return reply.send();
      return reply.send(await services.blobs.read(file.sha256));
    },
  });
}
