import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startProxyServer, type RunningProxy } from '../../src/client/proxy/proxy-app.ts';
import { VerifyingProxy, type ProxyEvent } from '../../src/client/proxy/index.ts';
import { parsePolicy } from '../../src/policy/index.ts';
import { startStaticIndex, type StaticIndex } from '../support/static-index.ts';

/**
 * The verifying proxy in front of a hostile upstream (issue 11, item 7): small local servers that
 * send gzip bombs, endless or oversized pages, stall, reset the connection or fail. Each is
 * answered 502 `proxy.upstream_error` naming the upstream URL, within the proxy's deadline and
 * without reading more than its caps; the proxy keeps serving.
 */
const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
const LIMITS = { timeoutMs: 1000, downloadIdleMs: 1000, maxPageBytes: 1024 * 1024, maxProvenanceBytes: 64 * 1024, maxFilesPerPage: 100 };
const work = mkdtempSync(join(tmpdir(), 'cairn-hostile-'));
let upstream: StaticIndex;
let proxy: RunningProxy;
const events: ProxyEvent[] = [];
/** Bytes the hostile routes managed to write before the proxy hung up. */
const written = new Map<string, number>();

function page(project: string, files: { filename: string; sha256: string; provenance?: string }[]): string {
  return JSON.stringify({
    meta: { 'api-version': '1.1' },
    name: project,
    files: files.map((f) => ({ filename: f.filename, url: `/dl/${f.filename}`, hashes: { sha256: f.sha256 }, ...(f.provenance ? { provenance: f.provenance } : {}) })),
  });
}

/** Writes `chunk` until the reader hangs up, counting what went out. */
function endless(name: string, response: ServerResponse, chunk: Buffer): void {
  written.set(name, 0);
  const more = () => {
    while (!response.destroyed) {
      written.set(name, written.get(name)! + chunk.length);
      if (!response.write(chunk)) return void response.once('drain', more);
    }
  };
  more();
}

async function getJson(path: string): Promise<{ status: number; body: { code?: string; message?: string }; ms: number }> {
  const start = performance.now();
  const response = await fetch(`${proxy.url}${path}`, { headers: { Accept: SIMPLE_JSON }, signal: AbortSignal.timeout(20_000) });
  const body = (await response.json()) as { code?: string; message?: string };
  return { status: response.status, body, ms: performance.now() - start };
}

function assertUpstreamError(answer: { status: number; body: { code?: string; message?: string }; ms: number }, url: string, reason?: RegExp): void {
  assert.equal(answer.status, 502, JSON.stringify(answer.body));
  assert.equal(answer.body.code, 'proxy.upstream_error');
  assert.ok(answer.body.message?.includes(url), `the message names ${url}: ${answer.body.message}`);
  if (reason) assert.match(answer.body.message ?? '', reason);
  assert.ok(answer.ms < LIMITS.timeoutMs + 4000, `answered after ${answer.ms} ms`);
}

before(async () => {
  upstream = await startStaticIndex();
  const policy = parsePolicy(`version = 1\n[defaults]\nrequire = "build"\n\n[[builders]]\nissuer = "https://issuer.invalid"\nidentity = "https://github.com/org/repo/*"\n`, 'hostile-policy.toml');
  const service = new VerifyingProxy({ upstream: upstream.url, policy, cacheDir: join(work, 'cache'), ttlMs: 0, errorTtlMs: 0, limits: LIMITS, onEvent: (e) => events.push(e) });
  proxy = await startProxyServer(service, { port: 0 });
});
after(async () => {
  await proxy?.close();
  await upstream?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the verifying proxy against a hostile upstream', () => {
  test('a gzip bomb page is refused by its decompressed size', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
    assert.ok(bomb.length < LIMITS.maxPageBytes, 'the bomb itself is small on the wire');
    upstream.routes.set('/simple/bomb/', {
      body: '',
      handle: (_request, response) => {
        response.writeHead(200, { 'content-type': SIMPLE_JSON, 'content-encoding': 'gzip', 'content-length': bomb.length });
        response.end(bomb);
      },
    });
    const rssBefore = process.memoryUsage().rss;
    const answer = await getJson('/simple/bomb/');
    assertUpstreamError(answer, `${upstream.url}/simple/bomb/`, /larger than 1048576 bytes/);
    assert.ok(process.memoryUsage().rss - rssBefore < 128 * 1024 * 1024, 'the bomb was expanded in memory');
  });

  test('an endless page is cut at the size cap, and the upstream connection closed', async () => {
    upstream.routes.set('/simple/endless/', {
      body: '',
      handle: (_request, response) => {
        response.writeHead(200, { 'content-type': SIMPLE_JSON });
        response.write('{"meta":{"api-version":"1.1"},"name":"endless","files":[');
        endless('endless', response, Buffer.from('{"filename":"x","url":"/x","hashes":{}},'.repeat(1000)));
      },
    });
    const answer = await getJson('/simple/endless/');
    assertUpstreamError(answer, `${upstream.url}/simple/endless/`, /larger than/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sent = written.get('endless')!;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(written.get('endless'), sent, 'the upstream is still sending: the proxy did not hang up');
    assert.ok(sent < 64 * 1024 * 1024, `${sent} bytes were pulled from the upstream`);
  });

  test('an upstream that never answers is cut at the deadline', async () => {
    upstream.routes.set('/simple/silent/', { body: '', handle: () => undefined });
    const answer = await getJson('/simple/silent/');
    assertUpstreamError(answer, `${upstream.url}/simple/silent/`);
    assert.ok(answer.ms >= LIMITS.timeoutMs - 50);
  });

  test('an upstream that stalls in the middle of a page is cut at the deadline', async () => {
    upstream.routes.set('/simple/stalling/', {
      body: '',
      handle: (_request, response) => {
        response.writeHead(200, { 'content-type': SIMPLE_JSON });
        response.write('{"meta":{"api-version":"1.1"},"name":"stalling","files":[');
      },
    });
    assertUpstreamError(await getJson('/simple/stalling/'), `${upstream.url}/simple/stalling/`, /broke off|aborted|timeout/i);
  });

  test('a connection reset, before or during the page, is a 502 naming the upstream', async () => {
    upstream.routes.set('/simple/reset/', { body: '', handle: (request) => request.socket.resetAndDestroy() });
    assertUpstreamError(await getJson('/simple/reset/'), `${upstream.url}/simple/reset/`);
    upstream.routes.set('/simple/halfway/', {
      body: '',
      handle: (request, response) => {
        response.writeHead(200, { 'content-type': SIMPLE_JSON });
        response.write('{"meta":{"api-version":"1.1"},"name":"halfway","files":[', () => setTimeout(() => request.socket.resetAndDestroy(), 50));
      },
    });
    assertUpstreamError(await getJson('/simple/halfway/'), `${upstream.url}/simple/halfway/`);
  });

  test('an upstream server error and a page that is not JSON are 502 naming the upstream', async () => {
    upstream.routes.set('/simple/broken/', { status: 500, body: 'oops', contentType: 'text/plain' });
    assertUpstreamError(await getJson('/simple/broken/'), `${upstream.url}/simple/broken/`, /HTTP 500/);
    upstream.routes.set('/simple/garbage/', { body: '<html>not json', contentType: SIMPLE_JSON });
    assertUpstreamError(await getJson('/simple/garbage/'), `${upstream.url}/simple/garbage/`, /not a PEP 691 JSON page/);
  });

  test('a page listing more files than the cap is refused before any is checked', async () => {
    const files = Array.from({ length: LIMITS.maxFilesPerPage + 1 }, (_, i) => ({ filename: `many-1.${i}-py3-none-any.whl`, sha256: 'a'.repeat(64) }));
    upstream.routes.set('/simple/many/', { body: page('many', files), contentType: SIMPLE_JSON });
    const before = upstream.requests.length;
    assertUpstreamError(await getJson('/simple/many/'), `${upstream.url}/simple/many/`, /lists 101 files, more than the cap of 100/);
    assert.deepEqual(upstream.requests.slice(before), ['/simple/many/'], 'no provenance was fetched');
  });

  test('a page of many tiny objects is refused before it is parsed, without blocking the proxy', async () => {
    // Within the byte cap, hundreds of thousands of objects: parsing them would block the event loop.
    const tiny = '{"filename":"t","url":"/t","hashes":{}},'.repeat(Math.floor((LIMITS.maxPageBytes - 200) / 41));
    upstream.routes.set('/simple/tiny/', { body: `{"meta":{"api-version":"1.1"},"name":"tiny","files":[${tiny.slice(0, -1)}]}`, contentType: SIMPLE_JSON });
    let lag = 0;
    let last = performance.now();
    const probe = setInterval(() => {
      lag = Math.max(lag, performance.now() - last - 5);
      last = performance.now();
    }, 5);
    try {
      assertUpstreamError(await getJson('/simple/tiny/'), `${upstream.url}/simple/tiny/`, /more files than the cap of 100/);
    } finally {
      clearInterval(probe);
    }
    assert.ok(lag < 250, `the event loop stalled for ${Math.round(lag)} ms`);
  });

  test('provenance that stalls or never ends: the file is hidden, and the provenance URL answers 502 naming it', async () => {
    const filename = 'prov-1.0-py3-none-any.whl';
    upstream.routes.set('/simple/prov/', { body: page('prov', [{ filename, sha256: 'b'.repeat(64), provenance: '/prov/stalled' }]), contentType: SIMPLE_JSON });
    upstream.routes.set('/prov/stalled', { body: '', handle: () => undefined });
    const listing = await getJson('/simple/prov/');
    assert.equal(listing.status, 200);
    assert.deepEqual((listing.body as { files?: unknown[] }).files, []);
    assertUpstreamError(await getJson(`/integrity/prov/1.0/${filename}/provenance`), `${upstream.url}/prov/stalled`);
    upstream.routes.set('/simple/prov/', { body: page('prov', [{ filename, sha256: 'b'.repeat(64), provenance: '/prov/endless' }]), contentType: SIMPLE_JSON });
    upstream.routes.set('/prov/endless', {
      body: '',
      handle: (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/vnd.pypi.integrity.v1+json' });
        endless('provenance', response, Buffer.alloc(16 * 1024, 0x20));
      },
    });
    assertUpstreamError(await getJson(`/integrity/prov/1.0/${filename}/provenance`), `${upstream.url}/prov/endless`, /larger than 65536 bytes/);
  });

  test('after all of it the proxy still serves, and logged each upstream failure', async () => {
    const health = await fetch(`${proxy.url}/healthz`);
    assert.equal(health.status, 200);
    assert.ok(events.filter((e) => e.type === 'upstream_error' && e.code === 'proxy.upstream_error').length >= 8);
  });
});
