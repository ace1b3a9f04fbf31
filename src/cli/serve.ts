import type { Command } from 'commander';
import { loadServerConfig } from '../config.ts';
import { startServer } from '../http/server.ts';
import { withStorageOptions } from './storage-options.ts';

export function registerServe(program: Command): void {
  withStorageOptions(
    program
      .command('serve')
      .description('run the index (default http://127.0.0.1:8470, SQLite + files under ./data)')
      .option('--host <host>', 'address to listen on (env CAIRN_HOST)')
      .option('--port <port>', 'port to listen on (env CAIRN_PORT)')
      .option('--max-upload-bytes <n>', 'largest accepted distribution (env CAIRN_MAX_UPLOAD_BYTES)')
      .option('--base-url <url>', 'public URL of the index, for absolute links (env CAIRN_BASE_URL)')
      .option('--quiet', 'no request log'),
  ).action(async (options: { host?: string; port?: string; dataDir?: string; databaseUrl?: string; maxUploadBytes?: string; baseUrl?: string; quiet?: boolean }) => {
    const config = loadServerConfig(options);
    const server = await startServer(config, { logger: !options.quiet });
    console.log(`cairn index listening on ${server.url} (data: ${config.dataDir})`);
    const stop = () => {
      void server.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
