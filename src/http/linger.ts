import type { IncomingMessage, ServerResponse } from 'node:http';
import fastifyPlugin from 'fastify-plugin';

/** How long a refused request's remaining body is read and discarded, as nginx's `lingering_time`. */
export const LINGER_MS = 30_000;

/**
 * Lets a client that is still sending a body we refused finish sending, so it can read the
 * refusal. Closing at once makes the kernel answer the client's next segment with a reset,
 * which can destroy the response before the client reads it (the client then sees EPIPE or
 * ECONNRESET instead of the error code). The rest of the body is discarded as it arrives, and the
 * connection is cut after `lingerMs` whatever the client does, so a slow sender cannot hold it.
 */
export function lingerOnRefusal(request: IncomingMessage, response: ServerResponse, lingerMs = LINGER_MS): void {
  if (request.complete) return;
  const socket = request.socket;
  // The refusal keeps the connection alive (no `Connection: close`): Node then reads the body to
  // its end instead of destroying the socket right after the response. A client that sent
  // `Connection: close` (its whole body in one write, typically) would otherwise have the socket
  // destroyed under it as soon as the refusal is out, and see EPIPE instead of the refusal.
  const clientCloses = !response.shouldKeepAlive;
  if (!response.headersSent) response.shouldKeepAlive = true;
  response.once('finish', () => {
    if (request.complete) {
      if (clientCloses) socket.end();
      return;
    }
    const cut = setTimeout(() => socket.destroy(), lingerMs);
    cut.unref();
    const stop = () => clearTimeout(cut);
    request.once('end', () => {
      stop();
      // As the client asked: closed once its body is in, so it has read the refusal by then.
      if (clientCloses) socket.end();
    });
    request.once('close', stop);
    socket.once('close', stop);
    request.resume();
  });
}

/**
 * The hook for every route of an app (fastify-plugin keeps it on the root instance): any refusal
 * sent before the body was read (an upload's bad token, fastify's own 413 with its
 * `Connection: close`) drains the rest for a while instead of resetting a client still sending.
 */
export const lingerOnEveryRefusal = fastifyPlugin(
  async (app) => {
    app.addHook('onSend', async (request, reply, payload) => {
      if (!request.raw.complete && reply.statusCode >= 400) {
        reply.removeHeader('connection');
        lingerOnRefusal(request.raw, reply.raw);
      }
      return payload;
    });
  },
  { name: 'cairn-linger-on-refusal' },
);
