import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../../src/server/config.ts';
import { encodeMultipart, twineFields } from '../support/multipart.ts';
import { basicAuth, startTestServer, type TestServer } from '../support/server.ts';

/**
 * Slow, silent and idle clients on raw sockets (issue 11, item 2): each is cut within its
 * configured limit instead of holding a connection and its buffers for minutes.
 */
const LIMITS: HttpLimits = {
  ...DEFAULT_HTTP_LIMITS,
  headersTimeoutMs: 1000,
  requestTimeoutMs: 3000,
  keepAliveTimeoutMs: 500,
  socketIdleTimeoutMs: 10_000,
  minBodyBytesPerSecond: 4096,
  bodyRateWindowMs: 1000,
  maxConnections: 8,
};

interface RawConnection {
  socket: Socket;
  received(): string;
  /** Milliseconds from opening until the server closed it; rejects if it stays open `withinMs`. */
  closed(withinMs: number): Promise<number>;
}

async function open(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const start = performance.now();
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - start)));
  return {
    socket,
    received: () => text,
    closed: (withinMs) =>
      Promise.race([
        closedAt,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`still open after ${withinMs} ms; received ${JSON.stringify(text.slice(0, 200))}`)), withinMs).unref()),
      ]),
  };
}

async function waitUntil(check: () => boolean, withinMs: number, what: string): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > withinMs) assert.fail(what);
    await wait(50);
  }
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function uploadHead(url: string, contentType: string, length: number, authorization?: string): string {
  const { host } = new URL(url);
  return [`POST /legacy/ HTTP/1.1`, `Host: ${host}`, `Content-Type: ${contentType}`, `Content-Length: ${length}`, ...(authorization ? [`Authorization: ${authorization}`] : []), '', ''].join('\r\n');
}

describe('HTTP server limits against slow and idle clients', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite', { http: LIMITS });
  });
  after(async () => server.stop());

  test('headers sent a byte at a time are cut at the headers timeout (408)', async () => {
    const conn = await open(server.url);
    conn.socket.write('GET /simple/ HTTP/1.1\r\nHost: x\r\n');
    const dribble = setInterval(() => conn.socket.writable && conn.socket.write('X'), 100);
    try {
      const ms = await conn.closed(LIMITS.headersTimeoutMs + 2000);
      assert.ok(ms >= LIMITS.headersTimeoutMs - 50, `closed after ${ms} ms`);
      assert.match(conn.received(), /^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(dribble);
    }
  });

  test('a connection that sends nothing is closed at the headers timeout', async () => {
    const conns = await Promise.all([open(server.url), open(server.url), open(server.url)]);
    for (const conn of conns) await conn.closed(LIMITS.headersTimeoutMs + 2000);
  });

  test('an idle keep-alive connection is closed at the keep-alive timeout', async () => {
    const conn = await open(server.url);
    conn.socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    await wait(200);
    assert.match(conn.received(), /^HTTP\/1\.1 200 /);
    assert.match(conn.received(), /Keep-Alive: timeout=0|keep-alive/i);
    const ms = await conn.closed(LIMITS.keepAliveTimeoutMs + 2000);
    assert.ok(ms >= LIMITS.keepAliveTimeoutMs, `closed after ${ms} ms`);
  });

  test('an upload body that stalls is cut within one rate window, and leaves nothing on disk', async () => {
    const auth = basicAuth(await server.token('new_projects'));
    const parts = encodeMultipart([...twineFields({ name: 'stalled', version: '1.0', filetype: 'bdist_wheel' }), { name: 'content', filename: 'stalled-1.0-py3-none-any.whl', data: randomBytes(512 * 1024) }]);
    const conn = await open(server.url);
    conn.socket.write(uploadHead(server.url, parts.contentType, parts.body.length, auth));
    conn.socket.write(parts.body.subarray(0, 64 * 1024));
    // Then nothing more: the client (or an attacker) holds the connection open.
    const ms = await conn.closed(LIMITS.bodyRateWindowMs * 2 + 2000);
    assert.ok(ms < LIMITS.bodyRateWindowMs * 2 + 1500, `cut after ${ms} ms`);
    await waitUntil(() => readdirSync(join(server.dataDir, 'tmp')).length === 0, 3000, 'the partial upload stayed on disk');
    assert.equal((await server.services.db.selectFrom('files').selectAll().execute()).length, 0);
  });

  test('a body trickling in below the minimum rate is cut, one arriving faster is not', async () => {
    const slow = await open(server.url);
    slow.socket.write(`POST /_/provenance HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`);
    const trickle = setInterval(() => slow.socket.writable && slow.socket.write('x'.repeat(100)), 100);
    try {
      await slow.closed(LIMITS.bodyRateWindowMs * 2 + 2000);
    } finally {
      clearInterval(trickle);
    }
    const steady = await open(server.url);
    const body = JSON.stringify({ pad: 'y'.repeat(100_000) });
    steady.socket.write(`POST /_/provenance HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    // About 40 KiB/s, ten times the 4 KiB/s minimum (room for a loaded machine), for over two windows.
    for (let i = 0; i < body.length; i += 4096) {
      steady.socket.write(body.slice(i, i + 4096));
      await wait(100);
    }
    await steady.closed(5000);
    assert.match(steady.received(), /^HTTP\/1\.1 4\d\d /, 'the steady client got an answer (a refusal of its junk body), not a cut');
  });

  test('a whole request slower than the request timeout is answered 408', async () => {
    const conn = await open(server.url);
    conn.socket.write(`POST /_/provenance HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n`);
    // Fast enough for the rate check, too long for the request deadline.
    const feed = setInterval(() => conn.socket.writable && conn.socket.write('z'.repeat(2048)), 100);
    try {
      const ms = await conn.closed(LIMITS.requestTimeoutMs + 2500);
      assert.ok(ms >= LIMITS.requestTimeoutMs - 50, `closed after ${ms} ms`);
    } finally {
      clearInterval(feed);
    }
  });

  test('an unauthenticated upload is refused before its body is read: the answer comes while most of it is unsent', async () => {
    const conn = await open(server.url);
    conn.socket.write(uploadHead(server.url, 'multipart/form-data; boundary=x', 50 * 1024 * 1024));
    conn.socket.write(Buffer.alloc(16 * 1024, 0x61));
    await wait(300);
    assert.match(conn.received(), /^HTTP\/1\.1 401 /);
    assert.match(conn.received(), /auth\.missing/);
    conn.socket.destroy();
    const wrongToken = await open(server.url);
    wrongToken.socket.write(uploadHead(server.url, 'multipart/form-data; boundary=x', 50 * 1024 * 1024, basicAuth('pypi-not-a-token')));
    await wait(300);
    assert.match(wrongToken.received(), /^HTTP\/1\.1 403 /);
    wrongToken.socket.destroy();
  });

  test('connections beyond the cap are closed as they arrive; below it, requests are served again', async () => {
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnections }, () => open(server.url)));
    await wait(100);
    const extra = await open(server.url);
    extra.socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n');
    await extra.closed(1000);
    assert.equal(extra.received(), '', 'the connection over the cap was served');
    for (const conn of held) conn.socket.destroy();
    await wait(100);
    const response = await fetch(`${server.url}/livez`);
    assert.equal(response.status, 200);
  });
});
