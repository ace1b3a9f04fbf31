import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { RequestMetrics } from './request-metrics.ts';

/** The catalogue's size, read at each scrape. */
export interface CatalogueSize {
  projects: number;
  files: number;
  attestations: number;
  pendingProvenance: number;
  /** Publishing sessions open: pending and not expired. */
  publishingSessions: number;
  /** Bytes of rendered pages this process holds in memory. */
  pageCacheBytes: number;
}

/** Uploads run up to a 100 MiB distribution over a slow link, verified and stored. */
const UPLOAD_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The index's operational metrics (`GET /metrics`), in a registry of its own: several servers in
 * one process (the tests) must not count into each other, as they would in prom-client's global
 * registry. Counters and histograms live in this process; Prometheus sums across instances.
 */
export class IndexMetrics {
  readonly registry = new Registry();
  /** Requests answered, kept as plain numbers (request-metrics.ts) and appended to the exposition. */
  readonly requests = new RequestMetrics();
  readonly uploads = new Counter({
    name: 'cairn_uploads_total',
    help: 'Distribution uploads, by outcome (created, identical, or the error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly uploadDuration = new Histogram({
    name: 'cairn_upload_duration_seconds',
    help: 'Time to answer an upload (POST /legacy/), from the request to the answer, by outcome (accepted or refused)',
    labelNames: ['outcome'] as const,
    buckets: UPLOAD_SECONDS_BUCKETS,
    registers: [this.registry],
  });
  readonly provenanceSubmissions = new Counter({
    name: 'cairn_provenance_submissions_total',
    help: 'Build-provenance submissions, by outcome (pending, bound, or the error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly tufRefreshDuration = new Histogram({
    name: 'cairn_tuf_refresh_seconds',
    help: 'Time a TUF refresh took (signing included), by whether it published anything',
    labelNames: ['published'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  readonly pageCacheBytes = new Gauge({ name: 'cairn_page_cache_bytes', help: 'Bytes of rendered pages cached in this process', registers: [this.registry] });
  private readonly catalogue = {
    projects: new Gauge({ name: 'cairn_projects', help: 'Projects on the index', registers: [this.registry] }),
    files: new Gauge({ name: 'cairn_files', help: 'Distribution files on the index', registers: [this.registry] }),
    attestations: new Gauge({ name: 'cairn_attestations', help: 'Attestations bound to files', registers: [this.registry] }),
    pendingProvenance: new Gauge({
      name: 'cairn_pending_provenance',
      help: 'Build provenance waiting for its file (not expired)',
      registers: [this.registry],
    }),
    publishingSessions: new Gauge({ name: 'cairn_publishing_sessions', help: 'Publishing sessions open (pending, not expired)', registers: [this.registry] }),
  };
  /** Counts one answered request. */
  recordRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.record(method, route, status, seconds);
  }

  /** Names of the process metrics while they are collected, else null. */
  private processMetricNames: string[] | null = null;

  constructor(private readonly catalogueSize: () => Promise<CatalogueSize>) {}

  /**
   * Adds prom-client's process metrics (CPU, memory, file descriptors, event-loop lag, GC) while an
   * app serves. prom-client starts no timer of its own: the values are read at each scrape, the
   * event-loop delay from a perf_hooks monitor that does not keep the process alive.
   */
  startProcessMetrics(): void {
    if (this.processMetricNames) return;
    const before = new Set(this.metricNames());
    collectDefaultMetrics({ register: this.registry });
    this.processMetricNames = this.metricNames().filter((name) => !before.has(name));
  }

  /**
   * Drops the process metrics when the app closes. prom-client offers no way to stop its
   * event-loop monitor and GC observer; once no registry holds their metrics they are garbage and
   * stop with them.
   */
  stopProcessMetrics(): void {
    for (const name of this.processMetricNames ?? []) this.registry.removeSingleMetric(name);
    this.processMetricNames = null;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition, with the catalogue gauges read now. */
  async exposition(): Promise<string> {
    const size = await this.catalogueSize();
    this.catalogue.projects.set(size.projects);
    this.catalogue.files.set(size.files);
    this.catalogue.attestations.set(size.attestations);
    this.catalogue.pendingProvenance.set(size.pendingProvenance);
    this.catalogue.publishingSessions.set(size.publishingSessions);
    this.pageCacheBytes.set(size.pageCacheBytes);
    return `${await this.registry.metrics()}\n${this.requests.exposition()}`;
  }

  private metricNames(): string[] {
    return this.registry.getMetricsAsArray().map((metric) => metric.name);
  }
}
