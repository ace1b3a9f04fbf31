import fastifyPlugin from 'fastify-plugin';
import type { CairnServices } from '../../composition.ts';

/**
 * `GET /metrics` (Prometheus) and the hook that times every answered request. fastify-plugin
 * keeps the hook on the root instance, so it sees the routes of every other plugin.
 */
export const metricsRoutes = fastifyPlugin<{ services: CairnServices }>(
  async (app, { services }) => {
    const { metrics } = services;
    metrics.startProcessMetrics();
    app.addHook('onClose', async () => metrics.stopProcessMetrics());

    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, never the raw URL: project names would explode the label set.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.recordRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    });

    app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.exposition()));
  },
  { name: 'cairn-metrics' },
);
