/**
 * Counts and times of answered HTTP requests, kept as plain numbers and written out in the
 * Prometheus text format at each scrape. prom-client's counters and histograms validate and hash
 * their labels on every call, which cost as much as answering a cached page; here a request
 * adds to a series it looked up once.
 */

/** Request latency, from a cached simple page (sub-millisecond) to a slow page render. */
export const HTTP_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One (method, route, status): what `record` adds to. Hold on to it to skip the lookup. */
export interface RequestSeries {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  count: number;
  seconds: number;
  /** Requests per bucket of HTTP_SECONDS_BUCKETS (not cumulative); the last slot is beyond them. */
  readonly buckets: Float64Array;
}

export class RequestMetrics {
  private readonly series = new Map<string, RequestSeries>();

  /** The series of one method, route pattern and status, created on first use. */
  seriesOf(method: string, route: string, status: number): RequestSeries {
    const key = `${method} ${route} ${status}`;
    let series = this.series.get(key);
    if (!series) {
      series = { method, route, status, count: 0, seconds: 0, buckets: new Float64Array(HTTP_SECONDS_BUCKETS.length + 1) };
      this.series.set(key, series);
    }
    return series;
  }

  record(method: string, route: string, status: number, seconds: number): void {
    recordInto(this.seriesOf(method, route, status), seconds);
  }

  /**
   * The three metrics as prom-client writes them: requests by method, route and status; seconds
   * by route; a latency histogram by method and route (cumulative buckets, `le` first).
   */
  exposition(): string {
    const requests: string[] = [];
    const secondsByRoute = new Map<string, number>();
    const histograms = new Map<string, { method: string; route: string; count: number; seconds: number; buckets: Float64Array }>();
    for (const s of this.series.values()) {
      requests.push(`cairn_http_requests_total{method="${escapeLabel(s.method)}",route="${escapeLabel(s.route)}",status="${s.status}"} ${s.count}`);
      secondsByRoute.set(s.route, (secondsByRoute.get(s.route) ?? 0) + s.seconds);
      const key = `${s.method} ${s.route}`;
      let histogram = histograms.get(key);
      if (!histogram) {
        histogram = { method: s.method, route: s.route, count: 0, seconds: 0, buckets: new Float64Array(HTTP_SECONDS_BUCKETS.length + 1) };
        histograms.set(key, histogram);
      }
      histogram.count += s.count;
      histogram.seconds += s.seconds;
      for (let i = 0; i < s.buckets.length; i++) histogram.buckets[i]! += s.buckets[i]!;
    }
    const lines = [
      '# HELP cairn_http_requests_total HTTP requests answered, by method, route pattern and status code',
      '# TYPE cairn_http_requests_total counter',
      ...requests,
      '',
      '# HELP cairn_http_request_seconds_total Time spent answering HTTP requests, by route pattern',
      '# TYPE cairn_http_request_seconds_total counter',
      ...[...secondsByRoute].map(([route, seconds]) => `cairn_http_request_seconds_total{route="${escapeLabel(route)}"} ${seconds}`),
      '',
      '# HELP cairn_http_request_duration_seconds Time to answer an HTTP request, by method and route pattern',
      '# TYPE cairn_http_request_duration_seconds histogram',
    ];
    for (const h of histograms.values()) {
      const labels = `method="${escapeLabel(h.method)}",route="${escapeLabel(h.route)}"`;
      let cumulative = 0;
      HTTP_SECONDS_BUCKETS.forEach((bound, i) => {
        cumulative += h.buckets[i]!;
        lines.push(`cairn_http_request_duration_seconds_bucket{le="${bound}",${labels}} ${cumulative}`);
      });
      lines.push(`cairn_http_request_duration_seconds_bucket{le="+Inf",${labels}} ${h.count}`);
      lines.push(`cairn_http_request_duration_seconds_sum{${labels}} ${h.seconds}`);
      lines.push(`cairn_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** Adds one answered request to a series. */
export function recordInto(series: RequestSeries, seconds: number): void {
  series.count++;
  series.seconds += seconds;
  let bucket = 0;
  while (bucket < HTTP_SECONDS_BUCKETS.length && seconds > HTTP_SECONDS_BUCKETS[bucket]!) bucket++;
  series.buckets[bucket]!++;
}

/** Label values as the exposition format escapes them: backslash, double quote, newline. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
