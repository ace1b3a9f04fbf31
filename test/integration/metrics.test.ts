import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { IndexMetrics } from '../../src/server/metrics.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth, startTestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

const work = mkdtempSync(join(tmpdir(), 'cairn-metrics-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the exposition format escapes label values', async () => {
  const metrics = new IndexMetrics(async () => ({ projects: 0, files: 0, attestations: 0, pendingProvenance: 0, publishingSessions: 0, pageCacheBytes: 0 }));
  metrics.uploads.inc({ outcome: 'a"b\\c\nd' }, 2);
  assert.match(await metrics.exposition(), /\ncairn_uploads_total\{outcome="a\\"b\\\\c\\nd"\} 2\n/);
});

test('GET /metrics counts requests by route pattern, uploads by outcome, and reads the catalogue', async () => {
  const server = await startTestServer('sqlite');
  try {
    const auth = basicAuth(await server.token('new_projects'));
    const dist = makeDistribution(work, { name: 'metered', version: '1.0', kind: 'wheel' });
    assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
    assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
    assert.equal((await uploadFile(server.url, dist.path, basicAuth('cairn-wrong'))).status, 403);
    await fetch(`${server.url}/simple/metered/`);
    await fetch(`${server.url}/simple/unknown-project/`);

    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /cairn_uploads_total\{outcome="created"\} 1\n/);
    assert.match(text, /cairn_uploads_total\{outcome="identical"\} 1\n/);
    assert.match(text, /cairn_uploads_total\{outcome="auth.invalid_token"\} 1\n/);
    assert.match(text, /cairn_http_requests_total\{method="GET",route="\/simple\/:project\/",status="200"\} 1\n/);
    assert.match(text, /cairn_http_requests_total\{method="GET",route="\/simple\/:project\/",status="404"\} 1\n/);
    assert.doesNotMatch(text, /metered|unknown-project/, 'project names never become labels');
    assert.match(text, /\ncairn_files 1\n/);
    assert.match(text, /\ncairn_projects 1\n/);

    // Latency histograms: requests by method and route pattern, uploads by outcome.
    assert.match(text, /# TYPE cairn_http_request_duration_seconds histogram\n/);
    assert.match(text, /\ncairn_http_request_duration_seconds_count\{method="GET",route="\/simple\/:project\/"\} 2\n/);
    assert.match(text, /\ncairn_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/simple\/:project\/"\} 2\n/);
    assert.match(text, /# TYPE cairn_upload_duration_seconds histogram\n/);
    assert.match(text, /\ncairn_upload_duration_seconds_count\{outcome="accepted"\} 2\n/);
    assert.match(text, /\ncairn_upload_duration_seconds_count\{outcome="refused"\} 1\n/);
    // The process: event-loop lag (last sample and percentiles), CPU, memory.
    assert.match(text, /\nnodejs_eventloop_lag_seconds [0-9.e-]+\n/);
    assert.match(text, /\nnodejs_eventloop_lag_p99_seconds [0-9.e-]+\n/);
    assert.match(text, /\nprocess_cpu_user_seconds_total [0-9.e-]+\n/);
    assert.match(text, /\nprocess_resident_memory_bytes \d+\n/);
  } finally {
    await server.stop();
  }
  // Closing the server drops its process metrics (and prom-client's monitors with them).
  assert.equal(server.services.metrics.registry.getSingleMetric('nodejs_eventloop_lag_seconds'), undefined);
  assert.ok(server.services.metrics.registry.getSingleMetric('cairn_uploads_total'));
});

test('two servers in one process count apart', async () => {
  const [a, b] = await Promise.all([startTestServer('sqlite'), startTestServer('sqlite')]);
  try {
    await fetch(`${a.url}/healthz`);
    const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();
    assert.match(await scrape(a.url), /cairn_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1\n/);
    assert.doesNotMatch(await scrape(b.url), /route="\/healthz"/);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
