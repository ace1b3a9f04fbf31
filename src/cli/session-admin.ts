import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { withServices, withStorageOptions } from './storage-options.ts';

type StorageFlags = { dataDir?: string; databaseUrl?: string };

/** Operator commands for staged publishing (docs/staged-publishing.md). */
export function registerSessionAdmin(admin: Command, project: Command): void {
  withStorageOptions(
    project
      .command('require-provenance <name> <kind>')
      .description("'build': no file of the project becomes public without verified build provenance (uploads and sessions); 'none' lifts it"),
  ).action(async (name: string, kind: string, options: StorageFlags) => {
    if (kind !== 'build' && kind !== 'none') throw new CairnError('usage.invalid_argument', `the kind is 'build' or 'none', got '${kind}'`);
    await withServices(options, async (s) => {
      await s.sessions.setProjectPolicy(name, kind === 'build' ? 'build' : null);
      console.log(kind === 'build' ? `${name}: every new file needs verified build provenance` : `${name}: no provenance requirement`);
    });
  });

  const sessions = admin.command('sessions').description('publishing sessions (PEP 694)');
  withStorageOptions(sessions.command('sweep').description('remove expired sessions now: their staged files leave the blob store')).action(async (options: StorageFlags) => {
    await withServices(options, async (s) => {
      console.log(`swept ${await s.sessions.sweepExpired()} expired session(s)`);
    });
  });
}
