import { CairnError } from '../errors.ts';

/**
 * A server that cannot listen, said as the user can act on it: the address and the option that
 * changes it, with a stable code instead of Node's stack trace.
 */
export function listenFailure(error: unknown, address: { host: string; port: number | string; option: string }): unknown {
  const code = (error as { code?: unknown }).code;
  const where = `${address.host}:${address.port}`;
  if (code === 'EADDRINUSE') {
    return new CairnError('server.port_in_use', `port ${address.port} on ${address.host} is taken (another cairn, or another server?): stop it, or choose another port with ${address.option} PORT (0 picks a free one)`, { host: address.host, port: address.port });
  }
  if (code === 'EACCES') {
    return new CairnError('server.listen_failed', `not allowed to listen on ${where} (ports below 1024 need privileges): choose another port with ${address.option} PORT`, { host: address.host, port: address.port });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new CairnError('server.listen_failed', `cannot listen on ${where}: ${address.host} is not an address of this machine; choose one with --host (127.0.0.1, or 0.0.0.0 for every interface)`, { host: address.host, port: address.port });
  }
  return error;
}
