import Fastify, { type FastifyInstance } from 'fastify';
import { CairnError } from '../errors.ts';
import type { CairnServices } from '../services/cairn-services.ts';
import { sendError } from './errors.ts';
import { fileRoutes } from './routes/files.ts';
import { jsonApiRoutes } from './routes/json-api.ts';
import { simpleRoutes } from './routes/simple.ts';
import { uploadRoutes } from './routes/upload.ts';

export interface AppOptions {
  logger?: boolean;
}

/** The index's HTTP surface (DESIGN §3). Routes are thin: they parse, call a service, answer. */
export async function buildApp(services: CairnServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ? { level: 'info' } : false,
    bodyLimit: 1024 * 1024,
    // Upload streams can be long; a slow client must still finish a 100 MiB upload.
    requestTimeout: 0,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500 },
  });
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new CairnError('request.not_found', `no route for ${request.method} ${request.url}`)),
  );

  const noProvenance = async () => new Set<number>();
  await simpleRoutes(app, services);
  await fileRoutes(app, services);
  await uploadRoutes(app, services);
  await jsonApiRoutes(app, services, noProvenance);

  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
