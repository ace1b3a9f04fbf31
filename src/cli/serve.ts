import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadServerConfig, type ServerConfig } from '../server/config.ts';
import { DEV_TRUST_PREFIX } from '../server/http/dev-trust-mount.ts';
import { startServer } from '../server/http/server.ts';
import { listenFailure } from './listen-errors.ts';
import { describeDatabaseUrl, withStorageOptions } from './storage-options.ts';

interface ServeOptions {
  host?: string;
  port?: string;
  dataDir?: string;
  databaseUrl?: string;
  maxUploadBytes?: string;
  baseUrl?: string;
  devTrust?: boolean;
  trustedRoot?: string[];
  releaseCloseDays?: string;
  headersTimeout?: string;
  requestTimeout?: string;
  keepaliveTimeout?: string;
  minBodyRate?: string;
  maxConnections?: string;
  dbStatementTimeout?: string;
  dbConnectTimeout?: string;
  quiet?: boolean;
}

/** The storage flags an admin command needs to reach the same index, when they are not the defaults. */
function storageFlags(config: ServerConfig): string {
  const flags: string[] = [];
  if (config.dataDir !== resolve('data')) flags.push(`--data-dir ${config.dataDir}`);
  if (config.databaseUrl !== `sqlite:${resolve(config.dataDir, 'cairn.sqlite')}`) flags.push(`--database-url '${describeDatabaseUrl(config.databaseUrl)}'`);
  return flags.length ? ` ${flags.join(' ')}` : '';
}

export function registerServe(program: Command): void {
  withStorageOptions(
    program
      .command('serve')
      .description('run the index (default http://127.0.0.1:8470, SQLite + files under ./data)')
      .option('--host <host>', 'address to listen on (env CAIRN_HOST)')
      .option('--port <port>', 'port to listen on (env CAIRN_PORT)')
      .option('--max-upload-bytes <n>', 'largest accepted distribution (env CAIRN_MAX_UPLOAD_BYTES)')
      .option('--base-url <url>', 'public URL of the index, for absolute links (env CAIRN_BASE_URL)')
      .option('--dev-trust', 'mount the dev trust domain at /_/dev and trust it (development only; env CAIRN_DEV_TRUST=1)')
      .option('--trusted-root <file...>', 'extra Sigstore trusted_root.json files to accept provenance from (env CAIRN_TRUSTED_ROOT, comma-separated)')
      .option('--release-close-days <days>', 'days after which a release takes no new files; 0 = never (default 14; env CAIRN_RELEASE_CLOSE_DAYS)')
      .option('--headers-timeout <ms>', 'time a client has to send its request headers (env CAIRN_HEADERS_TIMEOUT_MS; default 20000)')
      .option('--request-timeout <ms>', 'time a client has to send a whole request, 0 for none (env CAIRN_REQUEST_TIMEOUT_MS; default 3600000)')
      .option('--keepalive-timeout <ms>', 'how long an idle keep-alive connection stays open (env CAIRN_KEEPALIVE_TIMEOUT_MS; default 72000)')
      .option('--min-body-rate <bytes/s>', 'slowest accepted request body, over each 30 s, 0 for none (env CAIRN_MIN_BODY_RATE; default 1024)')
      .option('--max-connections <n>', 'connections open at once (env CAIRN_MAX_CONNECTIONS; default 1000)')
      .option('--db-statement-timeout <ms>', 'PostgreSQL statement timeout, 0 for none (env CAIRN_DB_STATEMENT_TIMEOUT_MS; default 30000)')
      .option('--db-connect-timeout <ms>', 'PostgreSQL connect timeout (env CAIRN_DB_CONNECT_TIMEOUT_MS; default 10000)')
      .option('--quiet', 'no request log'),
    { alwaysCreates: true },
  ).action(async (options: ServeOptions) => {
    const config = loadServerConfig(options);
    const server = await startServer(config, { logger: !options.quiet }).catch((error: unknown) => {
      throw listenFailure(error, { host: config.host, port: config.port, option: '--port (or CAIRN_PORT)' });
    });
    const url = config.baseUrl ?? server.url;
    // Which index this is, so an admin command (or a second `serve`) can be pointed at the same one.
    console.log(`cairn index listening on ${server.url} (data: ${config.dataDir}, database: ${describeDatabaseUrl(config.databaseUrl)})`);
    if (config.devTrust) {
      const base = `${url}${DEV_TRUST_PREFIX}`;
      console.log(`dev trust domain (NEVER trust it in production): issuer ${base}/oidc, CA ${base}/fulcio, log ${base}/rekor`);
      console.log(`  mint a CI-like token: npx cairn dev-trust token --url ${base} --repository OWNER/REPO --workflow-ref … --sha COMMIT`);
    }
    console.log('next steps (in another terminal, from this checkout):');
    console.log(`  an upload token:  TOKEN=$(npx cairn admin token create --new-projects${storageFlags(config)})`);
    console.log(`  upload:           twine upload --repository-url ${url}/legacy/ -u __token__ -p "$TOKEN" dist/*`);
    console.log(`  install:          pip install --index-url ${url}/simple/ NAME    (the web UI: ${url}/)`);
    const stop = () => {
      void server.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
