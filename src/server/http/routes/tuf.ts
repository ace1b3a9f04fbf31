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
/** What a client is told to wait before asking again while the first metadata is signed. */
const NOT_READY_RETRY_SECONDS = 10;
/** Keeps timestamp.json fresh on disk for mirrors that copy the directory, even with no traffic. */
const BACKGROUND_REFRESH_MS = 60 * 60 * 1000;

/**
 * `GET /tuf/…`: the index's TUF metadata (PEP 458), `timestamp.json`, `root.json` and
 * `<version>.<role>.json`. The repository regenerates lazily: asking for timestamp.json folds in
 * every upload committed before the request.
 */
export async function tufRoutes(app: FastifyInstance, { services }: { services: CairnServices }): Promise<void> {
  const repository = services.tuf;
  const waitMs = services.config.tufWaitMs;

  /**
   * A refresh, waited for at most `waitMs`: the first build of a large catalogue signs for minutes
   * (PostgreSQL at 1M files: longer than a load balancer or the idle-socket timeout holds a quiet
   * request), and goes on in the background when the wait ends. Whether it finished.
   */
  const refreshWithin = async (): Promise<boolean> => {
    const refreshing = repository.refresh();
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    try {
      const finished = await Promise.race([refreshing.then(() => true as const), gaveUp]);
      if (!finished) refreshing.catch((error: unknown) => app.log.error({ err: error }, 'TUF refresh failed'));
      return finished;
    } finally {
      clearTimeout(timer);
    }
  };
  const notReady = (reply: FastifyReply): never => {
    reply.header('Retry-After', String(NOT_READY_RETRY_SECONDS));
    throw new CairnError('tuf.not_ready', `the index's first TUF metadata is still being signed; ask again in ${NOT_READY_RETRY_SECONDS} s`);
  };

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
      // The published timestamp stays valid until it expires: past the wait, or when the refresh
      // failed, it is the answer.
      let refreshed = false;
      try {
        refreshed = await refreshWithin();
      } catch (error) {
        if (!(await repository.readMetadata(name))) throw error;
        request.log.error({ err: error }, 'TUF refresh failed; serving the published timestamp');
      }
      if (!refreshed && !(await repository.readMetadata(name))) notReady(reply);
    } else if (!(await repository.readMetadata('timestamp.json'))) {
      if (!(await refreshWithin())) notReady(reply);
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
