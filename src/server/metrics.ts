import type { MetricFamily } from '../formats/prometheus.ts';

/** A counter with labels, kept in memory for this process (Prometheus sums across processes). */
export class Counter {
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Record<string, string> = {}, by = 1): void {
    const key = JSON.stringify(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }

  family(): MetricFamily {
    return { name: this.name, help: this.help, type: 'counter', samples: [...this.values.values()].map((v) => ({ labels: v.labels, value: v.value })) };
  }
}

/** The index's operational metrics: request counters by route, and what the index did. */
export class IndexMetrics {
  readonly httpRequests = new Counter('cairn_http_requests_total', 'HTTP requests answered, by method, route pattern and status code');
  readonly httpSeconds = new Counter('cairn_http_request_seconds_total', 'Time spent answering HTTP requests, by route pattern');
  readonly uploads = new Counter('cairn_uploads_total', 'Distribution uploads, by outcome (created, identical, or the error code)');
  readonly provenanceSubmissions = new Counter('cairn_provenance_submissions_total', 'Build-provenance submissions, by outcome (pending, bound, or the error code)');

  counters(): Counter[] {
    return [this.httpRequests, this.httpSeconds, this.uploads, this.provenanceSubmissions];
  }
}
