import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config.ts';
import { openServices, type CairnServices } from '../composition.ts';
import { buildApp } from './app.ts';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  services: CairnServices;
  close(): Promise<void>;
}

/** How often expired pending provenance is swept (DESIGN §4). */
const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/** Opens storage, recovers from any interrupted upload, and listens. */
export async function startServer(config: ServerConfig, options: { logger?: boolean; clock?: () => Date } = {}): Promise<RunningServer> {
  const services = await openServices(config, options.clock);
  const recovered = await services.uploads.recoverInterruptedUploads();
  // The bound port is known only after listen (port 0 in tests); hooks that run on listen read it here.
  const listenUrl = (): string => {
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return `http://${host}:${port}`;
  };
  const app: FastifyInstance = await buildApp(services, {
    logger: options.logger,
    ...(config.devTrust ? { devTrustIndexUrl: () => config.baseUrl ?? listenUrl() } : {}),
  });
  if (recovered > 0) app.log.warn({ recovered }, 'removed blobs of uploads interrupted by a crash');
  await app.listen({ host: config.host, port: config.port });
  const url = listenUrl();

  const sweep = async () => {
    try {
      const removed = await services.pendingProvenance.sweepExpired();
      if (removed > 0) app.log.info({ removed }, 'expired pending provenance swept');
    } catch (error) {
      app.log.error({ err: error }, 'pending provenance sweep failed');
    }
  };
  await sweep();
  const timer = setInterval(() => void sweep(), SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    url,
    app,
    services,
    close: async () => {
      clearInterval(timer);
      await app.close();
      await services.close();
    },
  };
}
