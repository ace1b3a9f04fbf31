import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CairnError } from '../../../errors.ts';
import type { CairnServices } from '../../composition.ts';
import { TUF_METADATA_NAME } from '../../tuf/tuf-repository.ts';
import { answerConditional } from '../../../http/conditional.ts';
import { paramsSchema } from '../../../http/param-schemas.ts';

/** Versioned metadata names exactly one content forever (consistent snapshots). */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** timestamp.json moves with every upload; a CDN may hold it for a minute. */
const TIMESTAMP_CACHE = 'public, max-age=60';
/** The unversioned latest root changes only on a root rotation; revalidate each time. */
const LATEST_ROOT_CACHE = 'no-cache';
/** Keeps timestamp.json fresh on disk for mirrors that copy the directory, even with no traffic. */
const BACKGROUND_REFRESH_MS = 60 * 60 * 1000;

/**
 * `GET /tuf/…`: the index's TUF metadata (PEP 458), `timestamp.json`, `root.json` and
 * `<version>.<role>.json`. The repository regenerates lazily: asking for timestamp.json folds in
 * every upload committed before the request.
 */
export async function tufRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const repository = services.tuf;

  const timer = setInterval(() => {
    void (async () => {
      if (!(await repository.readMetadata('timestamp.json'))) return;
      await repository.refresh();
    })().catch((error: unknown) => app.log.error({ err: error }, 'TUF background refresh failed'));
  }, BACKGROUND_REFRESH_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  const serve = async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const { name } = request.params;
    let cacheControl = IMMUTABLE;
    if (name === 'timestamp.json') {
      cacheControl = TIMESTAMP_CACHE;
      try {
        await repository.refresh();
      } catch (error) {
        // The published timestamp stays valid until it expires; serve it rather than fail.
        if (!(await repository.readMetadata(name))) throw error;
        request.log.error({ err: error }, 'TUF refresh failed; serving the published timestamp');
      }
    } else if (!(await repository.readMetadata('timestamp.json'))) {
      await repository.refresh();
    }
    if (name === 'root.json') cacheControl = LATEST_ROOT_CACHE;
    const bytes = await repository.readMetadata(name);
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
