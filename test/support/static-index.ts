import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny PyPI-shaped index on loopback for consumer tests: each path answers what the test
 * sets (JSON simple pages, files, provenance objects), including broken answers an honest index
 * never gives (a truncated body, another file's provenance).
 */
export interface StaticRoute {
  status?: number;
  body: string | Buffer;
  contentType?: string;
  /** Send only this many bytes of the body, and no Content-Length (a connection cut short). */
  truncateTo?: number;
  /** Answers in its own way instead (a hostile upstream: stalls, endless bodies, resets); `body` is then unused. */
  handle?: (request: IncomingMessage, response: ServerResponse) => void;
}

export interface StaticIndex {
  url: string;
  routes: Map<string, StaticRoute>;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startStaticIndex(): Promise<StaticIndex> {
  const routes = new Map<string, StaticRoute>();
  const requests: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const route = routes.get(path);
    if (!route) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"request.not_found","message":"not here"}');
      return;
    }
    if (route.handle) {
      route.handle(request, response);
      return;
    }
    const body = typeof route.body === 'string' ? Buffer.from(route.body) : route.body;
    if (route.truncateTo !== undefined) {
      response.writeHead(route.status ?? 200, { 'content-type': route.contentType ?? 'application/octet-stream' });
      response.end(body.subarray(0, route.truncateTo));
      return;
    }
    response.writeHead(route.status ?? 200, { 'content-type': route.contentType ?? 'application/octet-stream', 'content-length': body.length });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routes,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A stalled answer would otherwise keep its connection, and close() waiting, forever.
        server.closeAllConnections();
      }),
  };
}
