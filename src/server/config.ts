import { resolve } from 'node:path';
import { CairnError } from '../errors.ts';
import { isValidBinCount } from '../tuf/hashed-bins.ts';
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
  /** How long a publishing session stays open before it expires and is swept, in seconds. */
  sessionTtlSeconds: number;
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
    sessionTtlSeconds: integerSetting('publishing session TTL (CAIRN_SESSION_TTL_SECONDS)', env.CAIRN_SESSION_TTL_SECONDS ?? 24 * 3600, 60, 30 * 24 * 3600),
    pendingMaxPerSigner: integerSetting('pending provenance per signer', env.CAIRN_PENDING_MAX_PER_SIGNER ?? 200, 1, 1_000_000),
    pendingMaxPerFilename: integerSetting('pending provenance per filename', env.CAIRN_PENDING_MAX_PER_FILENAME ?? 16, 1, 1000),
    trustedOidcIssuers: env.CAIRN_OIDC_ISSUERS
      ? env.CAIRN_OIDC_ISSUERS.split(',').map((s) => s.trim()).filter(Boolean)
      : [...DEFAULT_OIDC_ISSUERS],
    oidcAudience: env.CAIRN_OIDC_AUDIENCE?.trim() || DEFAULT_OIDC_AUDIENCE,
    tuf: tufSettings(env),
    pageCacheBytes: integerSetting('page cache size in MiB (CAIRN_PAGE_CACHE_MB)', env.CAIRN_PAGE_CACHE_MB ?? 256, 0, 1 << 20) * 1024 * 1024,
    pagePollMs: integerSetting('page journal poll interval in ms (CAIRN_PAGE_POLL_MS)', env.CAIRN_PAGE_POLL_MS ?? 250, 10, 60_000),
  };
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
  return { ...DEFAULT_TUF_SETTINGS, binCount, maxTargetsPerBin };
}
