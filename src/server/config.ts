import { resolve } from 'node:path';
import { CairnError } from '../errors.ts';
import { isValidBinCount } from '../tuf/hashed-bins.ts';
import { DEFAULT_POSTGRES_TIMEOUTS, type PostgresTimeouts } from './storage/postgres-pool.ts';
import type { S3Location } from './storage/s3-location.ts';
import { DEFAULT_TUF_SETTINGS, type TufSettings } from './tuf/tuf-repository.ts';

/**
 * What the HTTP server allows a slow, silent or idle client (docs/decisions.md, "Hardening").
 * Set on the node:http server itself: fastify never sees it (app.ts, `serverFactory`).
 */
export interface HttpLimits {
  /** From a connection's first byte (or the end of the previous request) to the end of the headers. */
  headersTimeoutMs: number;
  /** A whole request, headers and body; 0 turns it off. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection waits for its next request. */
  keepAliveTimeoutMs: number;
  /** A connection on which nothing moves either way this long is closed (a stalled download). */
  socketIdleTimeoutMs: number;
  /** A request body must arrive at least this fast, measured over each `bodyRateWindowMs`; 0 turns it off. */
  minBodyBytesPerSecond: number;
  bodyRateWindowMs: number;
  /** Connections open at once; further ones are closed as they arrive. */
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 60 * 60_000,
  keepAliveTimeoutMs: 72_000,
  socketIdleTimeoutMs: 120_000,
  minBodyBytesPerSecond: 1024,
  bodyRateWindowMs: 30_000,
  maxConnections: 1000,
};

/** Everything `cairn serve` and `cairn admin` need to know; flags override CAIRN_* variables. */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** `sqlite:PATH` or `postgres://…`; defaults to SQLite inside dataDir. */
  databaseUrl: string;
  /** Largest accepted distribution, in bytes. */
  maxUploadBytes: number;
  /** Public URL of the index (for absolute links); null serves root-relative links. */
  baseUrl: string | null;
  devTrust: boolean;
  trustedRootFiles: string[];
  /** How long pending build provenance waits for its file, in seconds. */
  pendingProvenanceTtlSeconds: number;
  /** Live pending submissions one signing identity may hold (DESIGN §4 caps). */
  pendingMaxPerSigner: number;
  /** How long a publishing session stays open before it expires and is swept, in seconds. */
  sessionTtlSeconds: number;
  /** Live pending submissions one (filename, sha256) may hold. */
  pendingMaxPerFile: number;
  /** Live pending submissions one signer may hold for one (filename, sha256). */
  pendingMaxPerSignerPerFile: number;
  /** OIDC issuers whose tokens the Trusted Publishing exchange accepts (exact `iss` values). */
  trustedOidcIssuers: string[];
  /** The `aud` the exchange demands; distinct per index so a token minted for one is useless at another. */
  oidcAudience: string;
  /** The TUF repository's layout and expiry policy (docs/tuf.md). */
  tuf: TufSettings;
  /** Memory for cached rendered pages, in bytes (CAIRN_PAGE_CACHE_MB). */
  pageCacheBytes: number;
  /** How often the page-change journal is polled for changes made by other processes, in ms. */
  pagePollMs: number;
  /**
   * How long a request for timestamp.json waits for a TUF refresh before it is answered with the
   * published timestamp, or, before the first one is published, 503 and Retry-After (CAIRN_TUF_WAIT_MS).
   */
  tufWaitMs: number;
  /** Days after its creation when a release takes no new files; 0 never closes (issue 15). */
  releaseCloseDays: number;
  /** Every Trusted Publishing token authorises one upload only (CAIRN_PUBLISHING_SINGLE_USE=1). */
  publishingSingleUse: boolean;
  /** The HTTP server's timeouts, minimum body rate and connection cap. */
  http: HttpLimits;
  /** Statement and connection timeouts and TCP keepalive towards PostgreSQL. */
  postgresTimeouts: PostgresTimeouts;
  /** Where blobs live: files under dataDir (default), or an S3-compatible bucket (CAIRN_BLOB_STORE=s3://…). */
  blobStore: { kind: 'filesystem' } | S3Location;
  /**
   * Blobs of uploads whose transaction has not committed are left alone this long by start-up
   * recovery and sweeps: another instance on the same database may still be committing them.
   */
  recoveryGraceSeconds: number;
  /** Cache-Control of pages, for browsers (max-age) and shared caches / CDNs (s-maxage, stale-if-error). */
  pageCaching: { maxAgeSeconds: number; sharedMaxAgeSeconds: number; staleIfErrorSeconds: number };
  /**
   * Purge hook (CAIRN_PURGE_URL): after every committed change, a request to each URL template,
   * once per changed project ({project}: its normalized name); a template without {project} is
   * requested when the `/simple/` root changed. Null: no shared cache to purge.
   */
  purge: { urlTemplates: string[]; method: string } | null;
}

export interface ConfigOverrides {
  host?: string | undefined;
  port?: string | number | undefined;
  dataDir?: string | undefined;
  databaseUrl?: string | undefined;
  maxUploadBytes?: string | number | undefined;
  baseUrl?: string | undefined;
  devTrust?: boolean | undefined;
  trustedRoot?: string[] | undefined;
  releaseCloseDays?: string | number | undefined;
  headersTimeout?: string | undefined;
  requestTimeout?: string | undefined;
  keepaliveTimeout?: string | undefined;
  minBodyRate?: string | undefined;
  maxConnections?: string | undefined;
  dbStatementTimeout?: string | undefined;
  dbConnectTimeout?: string | undefined;
}

export const DEFAULT_PORT = 8470;
/** GitHub Actions, GitLab.com and Google: the public issuers PyPI trusts out of the box. */
export const DEFAULT_OIDC_ISSUERS = ['https://token.actions.githubusercontent.com', 'https://gitlab.com', 'https://accounts.google.com'];
export const DEFAULT_OIDC_AUDIENCE = 'cairn';
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** PyPI's rule since 2026-07: no new files on a release older than 14 days. */
export const DEFAULT_RELEASE_CLOSE_DAYS = 14;

function integerSetting(name: string, raw: string | number, min: number, max: number): number {
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CairnError('config.invalid', `${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function loadServerConfig(flags: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const dataDir = resolve(flags.dataDir ?? env.CAIRN_DATA_DIR ?? './data');
  const baseUrl = flags.baseUrl ?? env.CAIRN_BASE_URL ?? null;
  if (baseUrl !== null && !/^https?:\/\/[^/]+(\/.*)?$/.test(baseUrl)) {
    throw new CairnError('config.invalid', `base URL must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
  }
  const databaseUrl = flags.databaseUrl ?? env.CAIRN_DATABASE_URL ?? `sqlite:${resolve(dataDir, 'cairn.sqlite')}`;
  if (!/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
    throw new CairnError('config.invalid', `database URL must be sqlite:PATH or postgres://…, got ${JSON.stringify(databaseUrl)}`);
  }
  assertPostgresDatabaseNamed(databaseUrl);
  const trustedRootEnv = env.CAIRN_TRUSTED_ROOT ? env.CAIRN_TRUSTED_ROOT.split(',').filter(Boolean) : [];
  return {
    host: flags.host ?? env.CAIRN_HOST ?? '127.0.0.1',
    port: integerSetting('port', flags.port ?? env.CAIRN_PORT ?? DEFAULT_PORT, 0, 65535),
    dataDir,
    databaseUrl,
    maxUploadBytes: integerSetting(
      'max upload size',
      flags.maxUploadBytes ?? env.CAIRN_MAX_UPLOAD_BYTES ?? DEFAULT_MAX_UPLOAD_BYTES,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    baseUrl: baseUrl?.replace(/\/+$/, '') ?? null,
    devTrust: flags.devTrust ?? env.CAIRN_DEV_TRUST === '1',
    trustedRootFiles: [...trustedRootEnv, ...(flags.trustedRoot ?? [])],
    pendingProvenanceTtlSeconds: integerSetting(
      'pending provenance TTL',
      env.CAIRN_PENDING_TTL_SECONDS ?? 24 * 3600,
      1,
      30 * 24 * 3600,
    ),
    sessionTtlSeconds: integerSetting('publishing session TTL (CAIRN_SESSION_TTL_SECONDS)', env.CAIRN_SESSION_TTL_SECONDS ?? 24 * 3600, 60, 30 * 24 * 3600),
    pendingMaxPerSigner: integerSetting('pending provenance per signer', env.CAIRN_PENDING_MAX_PER_SIGNER ?? 200, 1, 1_000_000),
    // At most 24 per file: with an upload's own 8 attestations the binding stays within the
    // 32 first-party attestations a file may carry. CAIRN_PENDING_MAX_PER_FILENAME is the
    // name this setting had when it counted per filename.
    pendingMaxPerFile: integerSetting('pending provenance per file', env.CAIRN_PENDING_MAX_PER_FILE ?? env.CAIRN_PENDING_MAX_PER_FILENAME ?? 16, 1, 24),
    pendingMaxPerSignerPerFile: integerSetting('pending provenance per signer and file', env.CAIRN_PENDING_MAX_PER_SIGNER_PER_FILE ?? 4, 1, 24),
    trustedOidcIssuers: env.CAIRN_OIDC_ISSUERS
      ? env.CAIRN_OIDC_ISSUERS.split(',').map((s) => s.trim()).filter(Boolean)
      : [...DEFAULT_OIDC_ISSUERS],
    oidcAudience: env.CAIRN_OIDC_AUDIENCE?.trim() || DEFAULT_OIDC_AUDIENCE,
    tuf: tufSettings(env),
    pageCacheBytes: integerSetting('page cache size in MiB (CAIRN_PAGE_CACHE_MB)', env.CAIRN_PAGE_CACHE_MB ?? 384, 0, 1 << 20) * 1024 * 1024,
    pagePollMs: integerSetting('page journal poll interval in ms (CAIRN_PAGE_POLL_MS)', env.CAIRN_PAGE_POLL_MS ?? 250, 10, 60_000),
    tufWaitMs: integerSetting('wait for a TUF refresh in ms (CAIRN_TUF_WAIT_MS)', env.CAIRN_TUF_WAIT_MS ?? 30_000, 0, 600_000),
    publishingSingleUse: env.CAIRN_PUBLISHING_SINGLE_USE === '1',
    releaseCloseDays: integerSetting(
      'release closing age in days (--release-close-days, CAIRN_RELEASE_CLOSE_DAYS; 0 = never)',
      flags.releaseCloseDays ?? env.CAIRN_RELEASE_CLOSE_DAYS ?? DEFAULT_RELEASE_CLOSE_DAYS,
      0,
      100_000,
    ),
    http: httpLimits(flags, env),
    postgresTimeouts: postgresTimeouts(flags, env),
    blobStore: blobStoreSetting(env, dataDir),
    // SQLite is one machine's (today's single-process recovery); a PostgreSQL database may be shared by instances.
    recoveryGraceSeconds: integerSetting(
      'recovery grace in seconds (CAIRN_RECOVERY_GRACE_SECONDS)',
      env.CAIRN_RECOVERY_GRACE_SECONDS ?? (databaseUrl.startsWith('sqlite:') ? 0 : 900),
      0,
      7 * 24 * 3600,
    ),
    pageCaching: {
      maxAgeSeconds: integerSetting('page max-age (CAIRN_PAGE_MAX_AGE)', env.CAIRN_PAGE_MAX_AGE ?? 60, 0, 31_536_000),
      sharedMaxAgeSeconds: integerSetting('page s-maxage (CAIRN_PAGE_SHARED_MAX_AGE)', env.CAIRN_PAGE_SHARED_MAX_AGE ?? 86_400, 0, 31_536_000),
      staleIfErrorSeconds: integerSetting('page stale-if-error (CAIRN_PAGE_STALE_IF_ERROR)', env.CAIRN_PAGE_STALE_IF_ERROR ?? 86_400, 0, 31_536_000),
    },
    purge: purgeSetting(env),
  };
}

const HOUR_MS = 3600_000;

function httpLimits(flags: ConfigOverrides, env: NodeJS.ProcessEnv): HttpLimits {
  const d = DEFAULT_HTTP_LIMITS;
  return {
    headersTimeoutMs: integerSetting('headers timeout in ms (--headers-timeout, CAIRN_HEADERS_TIMEOUT_MS)', flags.headersTimeout ?? env.CAIRN_HEADERS_TIMEOUT_MS ?? d.headersTimeoutMs, 100, HOUR_MS),
    requestTimeoutMs: integerSetting('request timeout in ms (--request-timeout, CAIRN_REQUEST_TIMEOUT_MS)', flags.requestTimeout ?? env.CAIRN_REQUEST_TIMEOUT_MS ?? d.requestTimeoutMs, 0, 24 * HOUR_MS),
    keepAliveTimeoutMs: integerSetting('keep-alive timeout in ms (--keepalive-timeout, CAIRN_KEEPALIVE_TIMEOUT_MS)', flags.keepaliveTimeout ?? env.CAIRN_KEEPALIVE_TIMEOUT_MS ?? d.keepAliveTimeoutMs, 100, HOUR_MS),
    socketIdleTimeoutMs: integerSetting('idle connection timeout in ms (CAIRN_SOCKET_IDLE_TIMEOUT_MS)', env.CAIRN_SOCKET_IDLE_TIMEOUT_MS ?? d.socketIdleTimeoutMs, 1000, HOUR_MS),
    minBodyBytesPerSecond: integerSetting('minimum body rate in bytes/s (--min-body-rate, CAIRN_MIN_BODY_RATE)', flags.minBodyRate ?? env.CAIRN_MIN_BODY_RATE ?? d.minBodyBytesPerSecond, 0, 1 << 30),
    bodyRateWindowMs: integerSetting('body rate window in ms (CAIRN_BODY_RATE_WINDOW_MS)', env.CAIRN_BODY_RATE_WINDOW_MS ?? d.bodyRateWindowMs, 100, HOUR_MS),
    maxConnections: integerSetting('connection cap (--max-connections, CAIRN_MAX_CONNECTIONS)', flags.maxConnections ?? env.CAIRN_MAX_CONNECTIONS ?? d.maxConnections, 1, 1_000_000),
  };
}

function postgresTimeouts(flags: ConfigOverrides, env: NodeJS.ProcessEnv): PostgresTimeouts {
  const d = DEFAULT_POSTGRES_TIMEOUTS;
  return {
    statementTimeoutMs: integerSetting('PostgreSQL statement timeout in ms (--db-statement-timeout, CAIRN_DB_STATEMENT_TIMEOUT_MS)', flags.dbStatementTimeout ?? env.CAIRN_DB_STATEMENT_TIMEOUT_MS ?? d.statementTimeoutMs, 0, HOUR_MS),
    connectTimeoutMs: integerSetting('PostgreSQL connect timeout in ms (--db-connect-timeout, CAIRN_DB_CONNECT_TIMEOUT_MS)', flags.dbConnectTimeout ?? env.CAIRN_DB_CONNECT_TIMEOUT_MS ?? d.connectTimeoutMs, 100, HOUR_MS),
    keepAliveMs: integerSetting('PostgreSQL TCP keepalive idle time in ms (CAIRN_DB_KEEPALIVE_MS)', env.CAIRN_DB_KEEPALIVE_MS ?? d.keepAliveMs, 1000, HOUR_MS),
  };
}

/**
 * CAIRN_BLOB_STORE=s3://BUCKET/PREFIX picks object storage; CAIRN_S3_ENDPOINT names an
 * S3-compatible server (path-style addressing then, unless CAIRN_S3_PATH_STYLE=0), the region
 * comes from CAIRN_S3_REGION or AWS_REGION, credentials from the AWS SDK's usual variables.
 */
function blobStoreSetting(env: NodeJS.ProcessEnv, dataDir: string): ServerConfig['blobStore'] {
  const raw = env.CAIRN_BLOB_STORE?.trim();
  if (!raw || raw === 'filesystem' || raw === 'file') return { kind: 'filesystem' };
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(raw);
  if (!match) {
    throw new CairnError('config.invalid', `CAIRN_BLOB_STORE must be 'filesystem' or s3://BUCKET/PREFIX (a bucket name of 3 to 63 lowercase letters, digits, dots, hyphens), got ${JSON.stringify(raw)}`);
  }
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  const endpoint = env.CAIRN_S3_ENDPOINT?.trim() || null;
  if (endpoint !== null && !/^https?:\/\/[^/]+\/?$/.test(endpoint)) {
    throw new CairnError('config.invalid', `CAIRN_S3_ENDPOINT must be an http(s) URL without a path, got ${JSON.stringify(endpoint)}`);
  }
  const downloads = env.CAIRN_S3_DOWNLOADS?.trim() || 'stream';
  if (downloads !== 'stream' && downloads !== 'redirect') {
    throw new CairnError('config.invalid', `CAIRN_S3_DOWNLOADS must be 'stream' or 'redirect', got ${JSON.stringify(downloads)}`);
  }
  const pathStyle = env.CAIRN_S3_PATH_STYLE?.trim();
  return {
    kind: 's3',
    bucket: match[1]!,
    prefix: prefix === '' ? '' : `${prefix}/`,
    endpoint: endpoint?.replace(/\/$/, '') ?? null,
    region: env.CAIRN_S3_REGION?.trim() || env.AWS_REGION?.trim() || 'us-east-1',
    forcePathStyle: pathStyle === undefined || pathStyle === '' ? endpoint !== null : pathStyle === '1' || pathStyle === 'true',
    spoolDir: resolve(dataDir, 'tmp'),
    downloads:
      downloads === 'redirect'
        ? { mode: 'redirect', expiresSeconds: integerSetting('presigned URL lifetime (CAIRN_S3_PRESIGN_SECONDS)', env.CAIRN_S3_PRESIGN_SECONDS ?? 300, 1, 7 * 24 * 3600) }
        : { mode: 'stream' },
  };
}

/** CAIRN_PURGE_URL=http://cache/simple/{project}/,http://cache/pypi/{project}/json (method CAIRN_PURGE_METHOD, default PURGE). */
function purgeSetting(env: NodeJS.ProcessEnv): ServerConfig['purge'] {
  const raw = env.CAIRN_PURGE_URL?.trim();
  if (!raw) return null;
  const urlTemplates = raw.split(',').map((t) => t.trim()).filter(Boolean);
  for (const template of urlTemplates) {
    if (!/^https?:\/\/[^/]+/.test(template)) {
      throw new CairnError('config.invalid', `CAIRN_PURGE_URL must be http(s) URL templates separated by commas ({project} is replaced by the normalized project name), got ${JSON.stringify(template)}`);
    }
  }
  const method = env.CAIRN_PURGE_METHOD?.trim() || 'PURGE';
  if (!/^[A-Z]+$/.test(method)) throw new CairnError('config.invalid', `CAIRN_PURGE_METHOD must be an HTTP method in capitals, got ${JSON.stringify(method)}`);
  return { urlTemplates, method };
}

/** PostgreSQL's own databases: cairn's tables must never be migrated into one of them. */
const POSTGRES_SYSTEM_DATABASES = new Set(['postgres', 'template0', 'template1']);

/**
 * A PostgreSQL URL must name cairn's database. Without a name, libpq and node-postgres connect
 * to the database named like the user — for `postgres://postgres@host` the maintenance
 * database, into which cairn would silently migrate its tables.
 */
function assertPostgresDatabaseNamed(databaseUrl: string): void {
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) return;
  let name: string;
  try {
    name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
  } catch {
    throw new CairnError('config.invalid', `the database URL is not a URL: postgres://user@host:port/DATABASE`);
  }
  if (name === '') {
    throw new CairnError('config.invalid', 'the PostgreSQL URL names no database: give cairn its own, postgres://user@host:port/DATABASE (createdb cairn)');
  }
  if (POSTGRES_SYSTEM_DATABASES.has(name)) {
    throw new CairnError('config.invalid', `the PostgreSQL URL names the '${name}' system database: give cairn its own, postgres://user@host:port/DATABASE (createdb cairn)`);
  }
}

/** `CAIRN_TUF_BINS` picks the number of hashed bins. */
function tufSettings(env: NodeJS.ProcessEnv): TufSettings {
  const bins = env.CAIRN_TUF_BINS;
  let binCount = DEFAULT_TUF_SETTINGS.binCount;
  if (bins !== undefined && bins !== '') {
    binCount = Number(bins);
    if (!isValidBinCount(binCount)) {
      throw new CairnError('config.invalid', `CAIRN_TUF_BINS must be a power of two from 2 to 65536, got ${JSON.stringify(bins)}`);
    }
  }
  const maxTargetsPerBin = integerSetting('TUF targets per bin (CAIRN_TUF_MAX_TARGETS_PER_BIN)', env.CAIRN_TUF_MAX_TARGETS_PER_BIN ?? DEFAULT_TUF_SETTINGS.maxTargetsPerBin, 2, 100_000);
  const keysDir = env.CAIRN_TUF_KEYS_DIR?.trim();
  return { ...DEFAULT_TUF_SETTINGS, binCount, maxTargetsPerBin, ...(keysDir ? { keysDir: resolve(keysDir) } : {}) };
}
