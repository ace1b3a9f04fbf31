import { createServer, type Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { cachedPageAnswerer } from './fast-pages.ts';
import { pageCacheControl } from '../pages/page-caching.ts';
import type { CairnServices } from '../composition.ts';
import type { HttpLimits, ServerConfig } from '../config.ts';
import { enforceMinimumBodyRate } from '../../http/body-rate.ts';
import { cairnErrorHandling } from '../../http/errors.ts';
import { devTrustRoutes } from './dev-trust-mount.ts';
import { lingerOnEveryRefusal } from '../../http/linger.ts';
import { fileRoutes } from './routes/files.ts';
import { jsonApiRoutes } from './routes/json-api.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { oidcRoutes } from './routes/oidc.ts';
import { provenanceRoutes } from './routes/provenance.ts';
import { publishingSessionRoutes } from './routes/publishing-sessions.ts';
import { rssRoutes } from './routes/rss.ts';
import { simpleRoutes } from './routes/simple.ts';
import { trustedPublishingDiscoveryRoutes } from './routes/trusted-publishing-discovery.ts';
import { tufRoutes } from './routes/tuf.ts';
import { uiRoutes } from './routes/ui.ts';
import { uploadRoutes } from './routes/upload.ts';
import { wrongUrlRoutes } from './routes/wrong-urls.ts';

export interface AppOptions {
  logger?: boolean;
}

/** `http://host:port` the app listens on; the port is known only after listen (port 0 in tests). */
export function listeningUrl(app: FastifyInstance, config: Pick<ServerConfig, 'host' | 'port'>): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}

/** The index's HTTP surface (DESIGN §3). Routes are thin: they parse, call a service, answer. */
export async function buildApp(services: CairnServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ? { level: 'info' } : false,
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500 },
    // A schema checks a body, it never rewrites it: `{"token": 5}` is refused, not read as "5".
    ajv: { customOptions: { coerceTypes: false } },
    // Cached project pages are answered before routing (fast-pages.ts). Fastify applies none of
    // its timeout options to a server it did not create, so the limits are set on this one.
    serverFactory: (handler) => {
      const limits = services.config.http;
      const answerCachedPage = cachedPageAnswerer(services.pages, services.metrics, pageCacheControl(services.config.pageCaching));
      const bodyRate = { minBytesPerSecond: limits.minBodyBytesPerSecond, windowMs: limits.bodyRateWindowMs };
      return limitedServer(limits, (request, response) => {
        enforceMinimumBodyRate(request, bodyRate);
        if (!answerCachedPage(request, response, handler)) handler(request, response);
      });
    },
  });
  // First of the onListen hooks: the dev trust domain's hook already needs the listening URL.
  app.addHook('onListen', async () => services.listenAddress.listeningAt(listeningUrl(app, services.config)));
  // App-wide (fastify-plugin), and first, so every route plugin below inherits them.
  await app.register(cairnErrorHandling);
  await app.register(lingerOnEveryRefusal);
  await app.register(metricsRoutes, { services });

  // Each surface is an encapsulated plugin: its content-type parsers, hooks and error handler
  // stay its own (the multipart parser of /legacy/ reaches no other route).
  await app.register(devTrustRoutes, { services });
  await app.register(simpleRoutes, { services });
  await app.register(fileRoutes, { services });
  await app.register(uploadRoutes, { services });
  await app.register(oidcRoutes, { services });
  await app.register(trustedPublishingDiscoveryRoutes, { services });
  await app.register(provenanceRoutes, { services });
  await app.register(publishingSessionRoutes, { services });
  await app.register(jsonApiRoutes, { services });
  await app.register(tufRoutes, { services });
  await app.register(uiRoutes, { services });
  await app.register(rssRoutes, { services });
  await app.register(wrongUrlRoutes, { services });

  // Readiness: the database and the blob store answer. Liveness: the process serves HTTP.
  app.get('/healthz', async (_request, reply) => {
    const report = await services.health.check();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });
  app.get('/livez', async () => ({ status: 'ok' }));
  return app;
}

/**
 * A node:http server that bounds what slow, silent and idle clients hold (docs/decisions.md,
 * "Hardening"): headers and whole requests have deadlines, idle keep-alive connections and
 * connections on which nothing moves are closed, and the number of connections is capped.
 */
function limitedServer(limits: HttpLimits, listener: Parameters<typeof createServer>[1]): Server {
  const requestTimeout = limits.requestTimeoutMs;
  const server = createServer(
    {
      // Node refuses a headers deadline later than the request's.
      headersTimeout: requestTimeout > 0 ? Math.min(limits.headersTimeoutMs, requestTimeout) : limits.headersTimeoutMs,
      requestTimeout,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // The deadlines above are checked at this interval (30 s by default, which would let a
      // connection outlive a 20 s headers timeout by half a minute).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    listener,
  );
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.socketIdleTimeoutMs);
  return server;
}
