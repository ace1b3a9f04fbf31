import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import type { CairnServices } from '../../composition.ts';
import { TUF_METADATA_NAME } from '../../tuf/tuf-repository.ts';
import { NOT_READY_RETRY_SECONDS, TufPublication } from '../../tuf/tuf-publication.ts';
import { answerConditional } from '../../../http/conditional.ts';
import { paramsSchema } from '../../../http/param-schemas.ts';

/** Versioned metadata names exactly one content forever (consistent snapshots). */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** timestamp.json moves with every upload; a CDN may hold it for a minute. */
const TIMESTAMP_CACHE = 'public, max-age=60';
/** The unversioned latest root changes only on a root rotation; revalidate each time. */
const LATEST_ROOT_CACHE = 'no-cache';

/**
 * `GET /tuf/…`: the index's TUF metadata (PEP 458), `timestamp.json`, `root.json` and
 * `<version>.<role>.json`, as TufPublication gives them.
 */
export async function tufRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const publication = new TufPublication(services.tuf, { waitMs: services.config.tufWaitMs, logError: (error, message) => app.log.error({ err: error }, message) });
  publication.startBackgroundRefresh();
  app.addHook('onClose', async () => publication.stop());

  const serve = async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const { name } = request.params;
    let bytes: Buffer | null;
    try {
      bytes = await publication.read(name);
    } catch (error) {
      if (error instanceof CairnError && error.code === 'tuf.not_ready') reply.header('Retry-After', String(NOT_READY_RETRY_SECONDS));
      throw error;
    }
    const cacheControl = name === 'timestamp.json' ? TIMESTAMP_CACHE : name === 'root.json' ? LATEST_ROOT_CACHE : IMMUTABLE;
    if (!bytes) throw new CairnError('request.not_found', `no TUF metadata ${name}`);
    const etag = `"${createHash('sha256').update(bytes).digest('hex')}"`;
    reply.header('Cache-Control', cacheControl).header('ETag', etag).type('application/json');
    if (answerConditional(request, reply, etag)) return reply;
    reply.header('Content-Length', bytes.length);
    if (request.method === 'HEAD') return reply.send();
    return reply.send(bytes);
  };

  app.route<{ Params: { name: string } }>({
    method: ['GET', 'HEAD'],
    url: '/tuf/:name',
    exposeHeadRoute: false,
    schema: {
      params: paramsSchema({ name: { type: 'string', pattern: TUF_METADATA_NAME.source, description: 'the name of a TUF metadata file' } }),
    },
    // Only those names are ever published; any other is simply not there.
    config: { invalidInput: 'request.not_found' },
    handler: serve,
  });
}
