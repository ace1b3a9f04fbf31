import type { IncomingMessage } from 'node:http';

export interface BodyRateLimit {
  /** 0 turns the check off. */
  minBytesPerSecond: number;
  windowMs: number;
}

function announcesBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

/**
 * Cuts a request whose body trickles in slower than the minimum rate over a whole window (a
 * stalled or deliberately slow upload holding a connection and its buffers), as nginx's
 * `client_body_timeout` does between two reads. Measured on the socket's byte count, so the body
 * is never read here; a window in which the route has not consumed what arrived (it is still
 * authenticating, or its disk is slow) is the server's own delay and does not count.
 */
export function enforceMinimumBodyRate(request: IncomingMessage, limit: BodyRateLimit): void {
  if (limit.minBytesPerSecond === 0 || request.complete || !announcesBody(request)) return;
  const socket = request.socket;
  const minimum = (limit.minBytesPerSecond * limit.windowMs) / 1000;
  let before = socket.bytesRead;
  const timer = setInterval(() => {
    const now = socket.bytesRead;
    const serverBehind = request.readableLength > 0;
    if (!request.complete && !serverBehind && now - before < minimum) {
      stop();
      socket.destroy();
      return;
    }
    before = now;
  }, limit.windowMs);
  timer.unref();
  // A keep-alive socket carries many requests: its listener goes with the request.
  const stop = () => {
    clearInterval(timer);
    socket.off('close', stop);
  };
  request.once('end', stop);
  request.once('close', stop);
  socket.once('close', stop);
}
