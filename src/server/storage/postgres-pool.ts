import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';
import { CairnError } from '../../errors.ts';

/** How long cairn waits on PostgreSQL, and how it notices a peer that vanished (docs/decisions.md). */
export interface PostgresTimeouts {
  /** Server-side `statement_timeout`; the client gives up a little later on its own (a partition). */
  statementTimeoutMs: number;
  /** Connecting, and waiting for a free pooled connection. */
  connectTimeoutMs: number;
  /** Idle time before TCP keepalive probes start on a connection. */
  keepAliveMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = { statementTimeoutMs: 30_000, connectTimeoutMs: 10_000, keepAliveMs: 10_000 };

/**
 * The client-side deadline is later than the server's, so a slow statement is cancelled by the
 * server (the connection stays usable) and only a silent peer hits this one.
 */
const CLIENT_GRACE_MS = 2_000;

/** SQLSTATEs the server sends as it goes away or refuses new work (class 08, 57P0x, 53300). */
function isServerConnectionFailure(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
}

/** The failure a broken or unreachable database means for a request; null for any other error. */
export function postgresUnavailable(error: unknown): CairnError | null {
  if (error instanceof CairnError) return null;
  const failure = error as { code?: unknown; message?: unknown; severity?: unknown };
  const message = typeof failure.message === 'string' ? failure.message : String(error);
  const code = typeof failure.code === 'string' ? failure.code : '';
  if (code === '57014') {
    return new CairnError('database.unavailable', `the database did not answer in time (statement timeout): ${message}`, { code });
  }
  // Errors the server reported with a SQLSTATE (constraint violations, …) are the caller's to read.
  if (failure.severity !== undefined && !isServerConnectionFailure(code)) return null;
  if (failure.severity === undefined && !isClientConnectionFailure(code, message)) return null;
  return new CairnError('database.unavailable', `the database connection failed: ${message}`, code ? { code } : undefined);
}

function isClientConnectionFailure(code: string, message: string): boolean {
  if (/^E[A-Z]+$/.test(code)) return true;
  return /Connection terminated|connection error|not queryable|Query read timeout|timeout exceeded when trying to connect|Client was closed/i.test(message);
}

/**
 * A pg pool as Kysely sees it, made safe against a database that goes away. Every client gets an
 * `error` listener for its whole life: pg-pool listens only while a client is idle, and a
 * connection dropped while checked out (pg_terminate_backend, a restart, a failover, a proxy
 * going away) would otherwise crash the process with an unhandled 'error' event. A query that
 * fails because its connection broke rejects with `database.unavailable` (503) and marks the
 * client broken: later queries on it (Kysely's rollback) fail at once instead of waiting out
 * the timeout again, and the client is destroyed on release, so the pool reconnects by itself.
 */
export class ResilientPostgresPool implements PostgresPool {
  private readonly pool: pg.Pool;
  private readonly clients = new WeakMap<pg.PoolClient, GuardedClient>();

  constructor(url: string, max: number, timeouts: PostgresTimeouts, warn: (message: string) => void) {
    const statementTimeout = timeouts.statementTimeoutMs;
    this.pool = new pg.Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: timeouts.keepAliveMs,
      // 0 turns a timeout off, as in PostgreSQL itself.
      ...(statementTimeout > 0
        ? {
            statement_timeout: statementTimeout,
            // A transaction left open by a vanished client must not hold its locks.
            idle_in_transaction_session_timeout: statementTimeout,
            query_timeout: statementTimeout + CLIENT_GRACE_MS,
          }
        : {}),
    });
    this.pool.on('connect', (client) => {
      client.on('error', (error) => warn(`a PostgreSQL connection broke: ${error.message}`));
    });
    // Idle clients are also reported to the pool, which discards them.
    this.pool.on('error', () => undefined);
  }

  async connect(): Promise<PostgresPoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw postgresUnavailable(error) ?? error;
    }
    let guarded = this.clients.get(client);
    if (!guarded) {
      guarded = new GuardedClient(client);
      this.clients.set(client, guarded);
    }
    guarded.broken = null;
    return guarded;
  }

  /**
   * One statement on any free connection, prepared by name (PostgreSQL parses and plans it once
   * per connection), outside a transaction. Failures of the connection are `database.unavailable`.
   */
  async namedQuery<R extends object>(name: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>({ name, text, values });
    } catch (error) {
      throw postgresUnavailable(error) ?? error;
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}

class GuardedClient implements PostgresPoolClient {
  broken: CairnError | null = null;

  constructor(private readonly client: pg.PoolClient) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') return this.client.query(sqlOrCursor as never) as PostgresCursor<R>;
    if (this.broken) return Promise.reject(this.broken);
    return (this.client.query(sqlOrCursor, parameters as unknown[]) as unknown as Promise<PostgresQueryResult<R>>).catch((error: unknown) => {
      const unavailable = postgresUnavailable(error);
      if (!unavailable) throw error;
      // A statement the server cancelled leaves its connection usable; anything else does not.
      if ((error as { code?: unknown }).code !== '57014') this.broken = unavailable;
      throw unavailable;
    });
  }

  release(destroy?: boolean): void {
    const discard = destroy === true || this.broken !== null;
    this.client.release(discard ? (this.broken ?? true) : undefined);
  }
}
