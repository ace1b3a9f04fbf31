import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { lingerOnRefusal } from '../../src/http/linger.ts';
import { basicAuth, startTestServer, type TestServer } from '../support/server.ts';

/**
 * A client still sending a body the index has already refused must be able to finish sending
 * and read the refusal: the index discards the rest instead of resetting the connection (a reset
 * can destroy the response before the client reads it, and the client then reports EPIPE).
 */

/** A raw HTTP/1.1 client: the test controls exactly when each byte of the body is sent. */
class RawConnection {
  readonly socket: Socket;
  received = '';
  errors: Error[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', (error) => this.errors.push(error));
    socket.on('close', () => (this.closed = true));
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawConnection(socket);
  }

  async waitFor(predicate: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.received.slice(0, 400))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async write(data: string | Buffer): Promise<void> {
    await new Promise<void>((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }
}

const BOUNDARY = 'linger-test';
const uploadHead = (length: number, authorization: string) =>
  `POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authorization}\r\n` +
  `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${length}\r\n\r\n`;

describe('a refused upload body is read to its end, not reset', () => {
  let server: TestServer;
  let port: number;
  before(async () => {
    server = await startTestServer('sqlite', { maxUploadBytes: 64 * 1024 * 1024 });
    port = Number(new URL(server.url).port);
  });
  after(async () => server?.stop());

  test('after a 403 sent at the headers, the client sends the rest, and the connection serves its next request', async () => {
    const bodyLength = 4 * 1024 * 1024;
    const connection = await RawConnection.open(port);
    await connection.write(uploadHead(bodyLength, basicAuth('cairn-not-a-real-token')));
    await connection.write(Buffer.alloc(1024, 'a'));
    await connection.waitFor(() => connection.received.includes('auth.invalid_token'), 'the refusal');
    assert.match(connection.received, /^HTTP\/1\.1 403 /);
    assert.doesNotMatch(connection.received, /connection: close/i, 'the refusal keeps the connection so the body can drain');

    // The body keeps coming long after the refusal: a reset here is what made clients see EPIPE.
    for (let sent = 1024; sent < bodyLength; sent += 256 * 1024) {
      await connection.write(Buffer.alloc(Math.min(256 * 1024, bodyLength - sent), 'b'));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const before = connection.received.length;
    await connection.write('GET /simple/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/vnd.pypi.simple.v1+json\r\n\r\n');
    await connection.waitFor(() => connection.received.slice(before).includes('"projects"'), 'the next response on the same connection');
    assert.deepEqual(connection.errors, []);
    assert.equal(connection.closed, false);
    connection.socket.destroy();
  });

  test('an upload declared over the size limit is refused at once and its body drained the same way', async () => {
    const connection = await RawConnection.open(port);
    const bodyLength = 64 * 1024 * 1024 + 9 * 1024 * 1024;
    await connection.write(uploadHead(bodyLength, basicAuth('cairn-not-a-real-token')));
    await connection.waitFor(() => connection.received.includes('upload.too_large'), 'the refusal');
    assert.match(connection.received, /^HTTP\/1\.1 413 /);
    const chunk = Buffer.alloc(1024 * 1024, 'c');
    for (let sent = 0; sent < bodyLength; sent += chunk.length) await connection.write(sent + chunk.length <= bodyLength ? chunk : chunk.subarray(0, bodyLength - sent));
    await connection.waitFor(() => connection.socket.bytesWritten >= bodyLength, 'the body to be written');
    assert.deepEqual(connection.errors, []);
    connection.socket.destroy();
  });

  test('an oversized JSON body (provenance submission) gets its 413 the same way', async () => {
    const connection = await RawConnection.open(port);
    const bodyLength = 8 * 1024 * 1024;
    await connection.write(`POST /_/provenance HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bodyLength}\r\n\r\n`);
    await connection.waitFor(() => connection.received.includes('request.too_large'), 'the refusal');
    assert.match(connection.received, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(connection.received, /connection: close/i);
    const chunk = Buffer.alloc(1024 * 1024, ' ');
    for (let sent = 0; sent < bodyLength; sent += chunk.length) await connection.write(chunk);
    const before = connection.received.length;
    await connection.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await connection.waitFor(() => connection.received.slice(before).includes('"ok"'), 'the next response on the same connection');
    assert.deepEqual(connection.errors, []);
    connection.socket.destroy();
  });

  test('an oversized provenance body sent in one write, with Connection: close, gets its 413 and no EPIPE', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024, ' ');
    for (let attempt = 0; attempt < 5; attempt++) {
      const connection = await RawConnection.open(port);
      const head = `POST /_/provenance HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      const written = connection.write(Buffer.concat([Buffer.from(head), body])).catch((error: Error) => error);
      await connection.waitFor(() => connection.closed, 'the server to close the connection once the body is in');
      assert.match(connection.received, /^HTTP\/1\.1 413 /);
      assert.match(connection.received, /request\.too_large/);
      assert.equal(await written, undefined, 'the client could not finish sending');
      assert.deepEqual(connection.errors, []);
    }
    // The same through fetch, which sends the body in one go.
    const response = await fetch(`${server.url}/_/provenance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { code: string }).code, 'request.too_large');
  });
});

describe('lingerOnRefusal', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((request, response) => {
      lingerOnRefusal(request, response, 300);
      response.writeHead(403, { 'Content-Type': 'text/plain' }).end('refused');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  test('cuts a client that stops sending once the linger time has passed', async () => {
    const connection = await RawConnection.open(port);
    // The server answers after this moment, so its linger time (300 ms) cannot end much before sentAt + 300 ms.
    const sentAt = Date.now();
    await connection.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(100));
    await connection.waitFor(() => connection.received.includes('refused'), 'the refusal');
    await connection.waitFor(() => connection.closed, 'the server to cut the stalled connection', 5000);
    assert.ok(Date.now() - sentAt >= 250, 'not (much) before the linger time: timers and Date.now() round to the millisecond');
  });
});
