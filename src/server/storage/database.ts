import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDatabase, type SqliteDialectConfig, type TransactionSettings } from 'kysely';
import pg from 'pg';
import { CairnError } from '../../errors.ts';
import { migrationProvider, type DialectName } from './migrations.ts';
import { DEFAULT_POSTGRES_TIMEOUTS, ResilientPostgresPool, type PostgresTimeouts } from './postgres-pool.ts';
import type { Database, PageKind } from './schema.ts';
import { isSqliteBusy, waitForLock } from './sqlite-lock-wait.ts';

export interface OpenedDatabase {
  db: Kysely<Database>;
  dialect: DialectName;
  /**
   * One rendered page by name and kind, without the query builder: the read behind every page
   * the cache does not hold, where building and compiling the query cost more than running it.
   */
  readPage: PageReader;
  close(): Promise<void>;
}

/** A row of `rendered_pages` as the page store reads it. */
export interface RenderedPageRow {
  sha256: string;
  length: number;
  gzip: Uint8Array;
}

export type PageReader = (normalizedName: string, kind: PageKind) => Promise<RenderedPageRow | undefined>;

const READ_PAGE_SQL = 'select sha256, length, gzip from rendered_pages where normalized_name = ? and kind = ?';

// int8 (bigint) columns come back from pg as strings; every bigint cairn stores (file sizes) is far
// below 2^53, so read them as numbers like SQLite does.
pg.types.setTypeParser(20, (value: string) => Number(value));

/**
 * Opens the metadata database named by `url`: `postgres://…` / `postgresql://…` for PostgreSQL,
 * `sqlite:PATH` or a bare path for SQLite (WAL mode). Runs pending migrations before returning.
 */
export async function openDatabase(
  url: string,
  options: { migrate?: boolean; poolSize?: number; postgresTimeouts?: PostgresTimeouts } = {},
): Promise<OpenedDatabase> {
  const postgres = url.startsWith('postgres://') || url.startsWith('postgresql://');
  const timeouts = options.postgresTimeouts ?? DEFAULT_POSTGRES_TIMEOUTS;
  // A second connection of a process that has migrated already (a worker thread) skips the check.
  if (options.migrate !== false) {
    // Migrations run on a connection of their own with no statement timeout: building an index on
    // a large table may rightly take longer than any request should.
    const migrating = postgres ? openPostgres(url, 1, { ...timeouts, statementTimeoutMs: 0 }) : openSqlite(url);
    const migrator = new Migrator({ db: migrating.db as Kysely<unknown>, provider: migrationProvider(migrating.dialect) });
    const { error } = await migrator.migrateToLatest();
    if (error || postgres) await migrating.close();
    if (error) throw databaseOpenFailure(error, url);
    if (!postgres) return migrating;
  }
  return postgres ? openPostgres(url, options.poolSize ?? 10, timeouts) : openSqlite(url);
}

/** Errors of connecting that mean "not reachable now" (exit 3), not "configured wrong" (exit 2). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P03', '53300']);

/** The first migration is the first query: a failure here is usually the connection's. */
function databaseOpenFailure(error: unknown, url: string): CairnError {
  const failure = error as { code?: unknown; message?: string; errors?: { code?: unknown }[] };
  // A broken connection arrives as database.unavailable already (postgres-pool.ts), carrying the driver's code.
  const translated = error instanceof CairnError && error.code === 'database.unavailable';
  const code = translated
    ? (error.details?.code ?? 'ECONNRESET')
    : typeof failure.code === 'string'
      ? failure.code
      : failure.errors?.find((e) => typeof e.code === 'string')?.code;
  const where = /^postgres(ql)?:\/\//.test(url) ? `PostgreSQL at ${new URL(url).host || 'localhost'}` : 'the database';
  const detail = failure.message || String(code ?? error);
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new CairnError('database.unavailable', `${where} is not reachable (${code}): is it running, and is --database-url right? ${detail}`, { code });
  }
  if (code === '3D000') return new CairnError('config.invalid', `${where}: ${detail}; create it (createdb NAME) or fix --database-url`, { code });
  if (code === '28P01' || code === '28000') return new CairnError('config.invalid', `${where} refused the credentials: ${detail}; fix the user or password in --database-url`, { code });
  return new CairnError('config.invalid', `database migration failed: ${String(error)}`);
}

function openSqlite(url: string): OpenedDatabase {
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  // FULL keeps a committed upload durable across power loss, matching the blob fsync.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  // No waiting inside SQLite: it would sleep on this thread. Statements wait on a timer (sqlite-lock-wait.ts).
  sqlite.pragma('busy_timeout = 0');
  const db = new Kysely<Database>({ dialect: new ImmediateTransactionsSqliteDialect({ database: withStatementCache(sqlite) }) });
  if (path === ':memory:') return { db, dialect: 'sqlite', readPage: kyselyPageReader(db), close: () => db.destroy() };
  // Pages are read on a read-only connection of their own: on the writers' connection a read could
  // land inside a transaction still open across an await, and see (and cache) what it may roll back.
  // In WAL mode this one reads the last commit and never waits for a writer.
  let reader: { connection: BetterSqlite3.Database; statement: BetterSqlite3.Statement } | null = null;
  const readPageOnce = (normalizedName: string, kind: PageKind): RenderedPageRow | undefined => {
    if (!reader) {
      const connection = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
      connection.pragma('busy_timeout = 0');
      // The pages' index and rows of a large catalogue do not fit SQLite's default 2 MB cache:
      // every read would go back to the file for the index's inner pages.
      connection.pragma('cache_size = -32768');
      reader = { connection, statement: connection.prepare(READ_PAGE_SQL) };
    }
    return reader.statement.get(normalizedName, kind) as RenderedPageRow | undefined;
  };
  // A WAL reader meets SQLITE_BUSY only while another connection recovers or truncates the log.
  const readPage: PageReader = (normalizedName, kind) => {
    try {
      return Promise.resolve(readPageOnce(normalizedName, kind));
    } catch (error) {
      return isSqliteBusy(error) ? waitForLock(() => readPageOnce(normalizedName, kind)) : Promise.reject(error as Error);
    }
  };
  return {
    db,
    dialect: 'sqlite',
    readPage,
    close: async () => {
      reader?.connection.close();
      await db.destroy();
    },
  };
}

function kyselyPageReader(db: Kysely<Database>): PageReader {
  return (normalizedName, kind) =>
    db.selectFrom('rendered_pages').select(['sha256', 'length', 'gzip']).where('normalized_name', '=', normalizedName).where('kind', '=', kind).executeTakeFirst();
}

/** Statements kept compiled, by SQL text; the least recently used go first. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every query anew, and compiling the SQL costs about as much as
 * running a small query. The same texts recur (page rendering, batch inserts), so compiled
 * statements are reused, unless one is still being iterated (`busy`).
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare: (sqlText: string) => {
      const cached = cache.get(sqlText);
      if (cached && !cached.busy) {
        cache.delete(sqlText);
        cache.set(sqlText, cached);
        return cached;
      }
      const statement = sqlite.prepare(sqlText);
      cache.set(sqlText, statement);
      if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      return statement;
    },
  };
}

/**
 * SQLite transactions that write take the write lock when they begin (BEGIN IMMEDIATE), so a
 * writer waits up to LOCK_WAIT_MS for another. Kysely begins them DEFERRED: a transaction that reads, then
 * writes after another connection committed (the TUF worker thread, an admin command) fails at
 * once with SQLITE_BUSY_SNAPSHOT, whatever the timeout — a 500 on an upload or a provenance
 * submission on a busy index.
 */
class ImmediateTransactionsSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateTransactionsSqliteDriver(this.settings);
  }
}

class ImmediateTransactionsSqliteDriver extends SqliteDriver {
  /** Kysely's SQLite driver has a single connection, so one wrapper serves every acquisition. */
  private lockWaiting: DatabaseConnection | null = null;

  // Every statement (begin, commit, writes outside a transaction) waits for another connection's
  // lock on a timer, not in SQLite's busy handler on this thread (sqlite-lock-wait.ts).
  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    this.lockWaiting ??= {
      executeQuery: (query) => waitForLock(() => connection.executeQuery(query)),
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
    return this.lockWaiting;
  }

  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    // A read snapshot (a transaction that names an isolation level: the page reads) takes no
    // lock, so readers never wait for writers in WAL mode.
    await connection.executeQuery(CompiledQuery.raw(settings?.isolationLevel ? 'begin' : 'begin immediate'));
  }
}

function openPostgres(url: string, max: number, timeouts: PostgresTimeouts): OpenedDatabase {
  const pool = new ResilientPostgresPool(url, max, timeouts, (message) => console.warn(`cairn: ${message}`));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // A named statement: each connection parses and plans it once.
  const readPage: PageReader = async (normalizedName, kind) =>
    (await pool.namedQuery<RenderedPageRow>('cairn_read_page', 'select sha256, length, gzip from rendered_pages where normalized_name = $1 and kind = $2', [normalizedName, kind])).rows[0];
  return { db, dialect: 'postgres', readPage, close: () => db.destroy() };
}

/** True when the error is a unique-constraint violation on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
