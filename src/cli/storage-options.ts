import type { Command } from 'commander';
import { loadServerConfig, type ServerConfig } from '../server/config.ts';
import { openServices, type CairnServices } from '../server/composition.ts';

/** `--data-dir` / `--database-url`: every command that touches the index's storage takes them. */
export function withStorageOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data directory (env CAIRN_DATA_DIR)')
    .option('--database-url <url>', 'sqlite:PATH or postgres://… (env CAIRN_DATABASE_URL)');
}

type StorageFlags = { dataDir?: string; databaseUrl?: string; maxUploadBytes?: string };

export function configFromStorageOptions(options: StorageFlags): ServerConfig {
  return loadServerConfig({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, maxUploadBytes: options.maxUploadBytes });
}

export async function withServices<T>(options: StorageFlags, run: (s: CairnServices) => Promise<T>): Promise<T> {
  const services = await openServices(configFromStorageOptions(options));
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}
