import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config.ts';
import { openServices, type CairnServices } from '../composition.ts';
import { buildApp, listeningUrl } from './app.ts';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  services: CairnServices;
  close(): Promise<void>;
}

/** How often expired pending provenance (DESIGN §4) and expired publishing sessions are swept. */
const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/** Longer than any upload may take to arrive (the request timeout defaults to 1 h). */
const INTERRUPTED_UPLOAD_AGE_MS = 2 * 60 * 60 * 1000;

/** Opens storage, recovers from any interrupted upload, and listens. */
export async function startServer(config: ServerConfig, options: { logger?: boolean; clock?: () => Date } = {}): Promise<RunningServer> {
  // The logger exists once the app does; services that warn before that (none at start-up) go to stderr.
  let app: FastifyInstance | null = null;
  const services = await openServices(config, {
    clock: options.clock,
    // A test's clock cannot reach a worker thread: with one, the TUF repository signs inline.
    backgroundTuf: options.clock === undefined,
    log: { warn: (message) => (app ? app.log.warn(message) : console.warn(`cairn: ${message}`)) },
  });
  // Only what was left before the grace: another instance on the same database may be between
  // storing a blob and committing its row right now.
  const recoveryCutoff = () => new Date(services.clock().getTime() - config.recoveryGraceSeconds * 1000);
  const recovered = await services.uploads.recoverInterruptedUploads({ olderThan: recoveryCutoff() });
  // Pages are rendered on write; after an upgrade (or a new base URL) they are rendered once here.
  const rendered = await services.changes.renderStale();
  await services.tufTargets.backfill();
  await services.pages.startPolling();
  // In the background, while the server answers: a restarted instance serves from memory soon.
  services.pages.warm().catch((error: unknown) => {
    if (app) app.log.warn({ err: error }, 'warming the page cache stopped');
  });
  const built = await buildApp(services, { logger: options.logger });
  app = built;
  if (recovered > 0) built.log.warn({ recovered }, 'removed blobs of uploads interrupted by a crash');
  if (rendered > 0) built.log.info({ projects: rendered }, 'rendered the pages of projects stored by an earlier version');
  await built.listen({ host: config.host, port: config.port });
  const url = listeningUrl(built, config);

  const sweep = async () => {
    try {
      const removed = await services.pendingProvenance.sweepExpired();
      if (removed > 0) built.log.info({ removed }, 'expired pending provenance swept');
      const sessions = await services.sessions.sweepExpired();
      if (sessions > 0) built.log.info({ sessions }, 'expired publishing sessions swept');
    } catch (error) {
      built.log.error({ err: error }, 'pending provenance sweep failed');
    }
    try {
      // Blobs of uploads whose transaction had an unknown outcome (the connection broke) or that
      // another instance may still be committing: only those older than both bounds.
      const olderThan = new Date(Math.min(services.clock().getTime() - INTERRUPTED_UPLOAD_AGE_MS, recoveryCutoff().getTime()));
      const released = await services.uploads.recoverInterruptedUploads({ olderThan });
      if (released > 0) built.log.info({ released }, 'blobs of interrupted uploads checked');
    } catch (error) {
      built.log.error({ err: error }, 'interrupted upload recovery failed');
    }
  };
  await sweep();
  const timer = setInterval(() => void sweep(), SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    url,
    app: built,
    services,
    close: async () => {
      clearInterval(timer);
      await built.close();
      await services.close();
    },
  };
}
