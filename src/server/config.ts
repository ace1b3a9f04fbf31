import { resolve } from 'node:path';
import { CairnError } from '../errors.ts';
import { isValidBinCount } from '../tuf/hashed-bins.ts';
import type { S3Location } from './storage/s3-location.ts';
import { DEFAULT_TUF_SETTINGS, type TufSettings } from './tuf/tuf-repository.ts';

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
  /** Live pending submissions one filename may hold. */
  pendingMaxPerFilename: number;
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
}

export const DEFAULT_PORT = 8470;
/** GitHub Actions, GitLab.com and Google: the public issuers PyPI trusts out of the box. */
export const DEFAULT_OIDC_ISSUERS = ['https://token.actions.githubusercontent.com', 'https://gitlab.com', 'https://accounts.google.com'];
export const DEFAULT_OIDC_AUDIENCE = 'cairn';
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

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
    pendingMaxPerSigner: integerSetting('pending provenance per signer', env.CAIRN_PENDING_MAX_PER_SIGNER ?? 200, 1, 1_000_000),
    pendingMaxPerFilename: integerSetting('pending provenance per filename', env.CAIRN_PENDING_MAX_PER_FILENAME ?? 16, 1, 1000),
    trustedOidcIssuers: env.CAIRN_OIDC_ISSUERS
      ? env.CAIRN_OIDC_ISSUERS.split(',').map((s) => s.trim()).filter(Boolean)
      : [...DEFAULT_OIDC_ISSUERS],
    oidcAudience: env.CAIRN_OIDC_AUDIENCE?.trim() || DEFAULT_OIDC_AUDIENCE,
    tuf: tufSettings(env),
    pageCacheBytes: integerSetting('page cache size in MiB (CAIRN_PAGE_CACHE_MB)', env.CAIRN_PAGE_CACHE_MB ?? 256, 0, 1 << 20) * 1024 * 1024,
    pagePollMs: integerSetting('page journal poll interval in ms (CAIRN_PAGE_POLL_MS)', env.CAIRN_PAGE_POLL_MS ?? 250, 10, 60_000),
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
