import fastifyPlugin from 'fastify-plugin';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus, type MetricFamily } from '../../../formats/prometheus.ts';
import type { CairnServices } from '../../composition.ts';

/**
 * `GET /metrics` (Prometheus) and the hook that counts every answered request. fastify-plugin
 * keeps the hook on the root instance, so it sees the routes of every other plugin.
 */
export const metricsRoutes = fastifyPlugin<{ services: CairnServices }>(
  async (app, { services }) => {
    const { metrics } = services;
    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, never the raw URL: project names would explode the label set.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
      metrics.httpSeconds.inc({ route }, reply.elapsedTime / 1000);
    });

    app.get('/metrics', async (_request, reply) => {
      const [counts, attestations, pending] = await Promise.all([services.index.counts(), services.index.attestationCount(), services.pendingProvenance.countPending()]);
      const gauges: MetricFamily[] = [
        { name: 'cairn_projects', help: 'Projects on the index', type: 'gauge', samples: [{ value: counts.projects }] },
        { name: 'cairn_files', help: 'Distribution files on the index', type: 'gauge', samples: [{ value: counts.files }] },
        { name: 'cairn_attestations', help: 'Attestations bound to files', type: 'gauge', samples: [{ value: attestations }] },
        { name: 'cairn_pending_provenance', help: 'Build provenance waiting for its file (not expired)', type: 'gauge', samples: [{ value: pending }] },
      ];
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(renderPrometheus([...metrics.counters().map((c) => c.family()), ...gauges]));
    });
  },
  { name: 'cairn-metrics' },
);
