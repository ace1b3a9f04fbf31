import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { withServices, withStorageOptions } from './storage-options.ts';

type StorageFlags = { dataDir?: string; databaseUrl?: string };

/** `cairn admin tuf …`: the index's TUF repository (PEP 458, docs/tuf.md). */
export function registerTufAdmin(admin: Command): void {
  const tuf = admin.command('tuf').description('TUF metadata that lets clients verify the index through mirrors (PEP 458)');

  withStorageOptions(
    tuf
      .command('root')
      .description('print the current root.json for clients to pin (creates the repository and its keys on first use)')
      .option('--out <file>', 'write root.json to this file instead of standard output'),
  ).action(async (options: StorageFlags & { out?: string }) => {
    await withServices(options, async (s) => {
      const root = await s.tuf.latestRoot();
      const digest = createHash('sha256').update(root.bytes).digest('hex');
      // The pin's identity goes to stderr so stdout stays exactly the file a client ships.
      console.error(`root version ${root.version}, sha256 ${digest}`);
      if (options.out) writeFileSync(options.out, root.bytes);
      else process.stdout.write(`${root.bytes.toString('utf8')}\n`);
    });
  });

  withStorageOptions(
    tuf
      .command('refresh')
      .description('regenerate the metadata now: fold in catalogue changes and re-sign what is close to expiry'),
  ).action(async (options: StorageFlags) => {
    await withServices(options, async (s) => {
      const outcome = await s.tuf.refresh();
      console.log(
        `timestamp ${outcome.timestampVersion}, snapshot ${outcome.snapshotVersion}, root ${outcome.rootVersion}; ` +
          (outcome.written.length ? `wrote ${outcome.written.length} file(s)` : 'already up to date'),
      );
    });
  });
}
