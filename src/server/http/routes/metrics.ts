import type { FastifyInstance } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus, type MetricFamily } from '../../../formats/prometheus.ts';
import type { CairnServices } from '../../composition.ts';

/** `GET /metrics` (Prometheus) and the hook that counts every answered request. */
export async function metricsRoutes(app: FastifyInstance, services: CairnServices): Promise<void> {
  const { metrics } = services;
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: project names would explode the label set.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpSeconds.inc({ route }, reply.elapsedTime / 1000);
  });

  app.get('/metrics', async (_request, reply) => {
    const count = async (table: 'projects' | 'files' | 'attestations') =>
      Number((await services.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const pending = await services.pendingProvenance.countPending();
    const gauges: MetricFamily[] = [
      { name: 'cairn_projects', help: 'Projects on the index', type: 'gauge', samples: [{ value: await count('projects') }] },
      { name: 'cairn_files', help: 'Distribution files on the index', type: 'gauge', samples: [{ value: await count('files') }] },
      { name: 'cairn_attestations', help: 'Attestations bound to files', type: 'gauge', samples: [{ value: await count('attestations') }] },
      { name: 'cairn_pending_provenance', help: 'Build provenance waiting for its file (not expired)', type: 'gauge', samples: [{ value: pending }] },
    ];
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(renderPrometheus([...metrics.counters().map((c) => c.family()), ...gauges]));
  });
}
