import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config.ts';
import { openServices, type CairnServices } from '../services/cairn-services.ts';
import { buildApp } from './app.ts';

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  services: CairnServices;
  close(): Promise<void>;
}

/** Opens storage, recovers from any interrupted upload, and listens. */
export async function startServer(config: ServerConfig, options: { logger?: boolean } = {}): Promise<RunningServer> {
  const services = await openServices(config);
  const recovered = await services.uploads.recoverInterruptedUploads();
  const app = await buildApp(services, options);
  if (recovered > 0) app.log.warn({ recovered }, 'removed blobs of uploads interrupted by a crash');
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host}:${port}`,
    app,
    services,
    close: async () => {
      await app.close();
      await services.close();
    },
  };
}
