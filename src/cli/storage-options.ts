import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { loadServerConfig, type ServerConfig } from '../server/config.ts';
import { openServices, type CairnServices } from '../server/composition.ts';

export interface StorageFlags {
  dataDir?: string;
  databaseUrl?: string;
  maxUploadBytes?: string;
  /** An admin command may make a new, empty index only when asked to. */
  create?: boolean;
}

/**
 * `--data-dir` / `--database-url`: every command that touches the index's storage takes them.
 * Admin commands also take `--create`; `cairn serve` always creates the index it is pointed at.
 */
export function withStorageOptions(command: Command, options: { alwaysCreates?: boolean } = {}): Command {
  command
    .option('--data-dir <dir>', 'data directory (env CAIRN_DATA_DIR; default ./data)')
    .option('--database-url <url>', 'sqlite:PATH or postgres://user@host:port/DATABASE (env CAIRN_DATABASE_URL)');
  if (!options.alwaysCreates) command.option('--create', 'make a new, empty index if the data directory does not exist yet');
  return command;
}

export function configFromStorageOptions(options: StorageFlags): ServerConfig {
  return loadServerConfig({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, maxUploadBytes: options.maxUploadBytes });
}

/** The database URL as it may be printed: a PostgreSQL password is masked. */
export function describeDatabaseUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/**
 * An admin command works on an index `cairn serve` made (or an earlier `--create`). A mistyped
 * `--data-dir` used to create a new, empty SQLite index silently: a token printed into it is one
 * the running server has never heard of. Now a data directory (or SQLite file's directory) that
 * does not exist is refused, unless `--create` says a new index is meant.
 */
export function assertIndexLocation(config: ServerConfig, create: boolean): void {
  if (create) return;
  const missing = [config.dataDir];
  if (config.databaseUrl.startsWith('sqlite:') && config.databaseUrl !== 'sqlite::memory:') missing.push(dirname(config.databaseUrl.slice('sqlite:'.length)));
  for (const dir of missing) {
    if (!existsSync(dir)) {
      throw new CairnError(
        'storage.not_found',
        `no index at ${dir}: the directory does not exist. Check --data-dir (or CAIRN_DATA_DIR) names the directory \`cairn serve\` uses (it prints it at start-up); pass --create to make a new, empty index there`,
        { dataDir: config.dataDir },
      );
    }
  }
}

export async function withServices<T>(options: StorageFlags, run: (s: CairnServices) => Promise<T>): Promise<T> {
  const config = configFromStorageOptions(options);
  assertIndexLocation(config, options.create === true);
  const services = await openServices(config);
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}
