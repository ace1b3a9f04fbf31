import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { renderPrometheus } from '../../src/formats/prometheus.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth, startTestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

const work = mkdtempSync(join(tmpdir(), 'cairn-metrics-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('the exposition format escapes label values and help text', () => {
  const text = renderPrometheus([{ name: 'x_total', help: 'a\nb', type: 'counter', samples: [{ labels: { route: 'a"b\\c\nd' }, value: 2 }] }]);
  assert.equal(text, '# HELP x_total a\\nb\n# TYPE x_total counter\nx_total{route="a\\"b\\\\c\\nd"} 2\n');
  assert.throws(() => renderPrometheus([{ name: 'bad name', help: '', type: 'gauge', samples: [] }]), /invalid metric name/);
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
  } finally {
    await server.stop();
  }
});
