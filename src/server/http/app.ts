import Fastify, { type FastifyInstance } from 'fastify';
import { CairnError } from '../../errors.ts';
import type { CairnServices } from '../composition.ts';
import { sendError } from '../../http/errors.ts';
import { mountDevTrust } from './dev-trust-mount.ts';
import { lingerOnRefusal } from '../../http/linger.ts';
import { fileRoutes } from './routes/files.ts';
import { jsonApiRoutes } from './routes/json-api.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { oidcRoutes } from './routes/oidc.ts';
import { provenanceRoutes } from './routes/provenance.ts';
import { rssRoutes } from './routes/rss.ts';
import { simpleRoutes } from './routes/simple.ts';
import { tufRoutes } from './routes/tuf.ts';
import { uiRoutes } from './routes/ui.ts';
import { uploadRoutes } from './routes/upload.ts';

export interface AppOptions {
  logger?: boolean;
  /**
   * Mounts the dev trust domain at `/_/dev` (DESIGN §5) and trusts it. The function answers the
   * index's public URL, known only once the server listens.
   */
  devTrustIndexUrl?: () => string;
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
  // Any refusal sent before the body was read (an upload's bad token, fastify's own 413 with its
  // `Connection: close`) drains the rest for a while instead of resetting a client still sending.
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.raw.complete && reply.statusCode >= 400) {
      reply.removeHeader('connection');
      lingerOnRefusal(request.raw, reply.raw);
    }
    return payload;
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new CairnError('request.not_found', `no route for ${request.method} ${request.url}`)),
  );

  await metricsRoutes(app, services);
  if (options.devTrustIndexUrl) await mountDevTrust(app, services, options.devTrustIndexUrl);
  await simpleRoutes(app, services);
  await fileRoutes(app, services);
  await uploadRoutes(app, services);
  await oidcRoutes(app, services);
  await provenanceRoutes(app, services, services.pendingProvenance);
  await jsonApiRoutes(app, services);
  await tufRoutes(app, services);
  await uiRoutes(app, services);
  await rssRoutes(app, services);

  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
