import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import type { PendingEntry } from '../server/provenance/pending-provenance.ts';
import { withServices, withStorageOptions } from './storage-options.ts';

function entryLine(r: PendingEntry): string {
  return `${r.id}  ${r.filename}  sha256:${r.sha256}  signer ${r.signer_identity}  expires ${r.expires_at}`;
}

function pendingId(value: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new CairnError('usage.invalid_argument', `--id takes the numeric id 'provenance pending' shows, got '${value}'`);
  return Number(value);
}

/**
 * `cairn admin provenance pending` (what builders submitted that no upload has bound yet) and
 * `purge` (remove entries that hold places a real builder needs).
 */
export function registerProvenanceAdmin(admin: Command): void {
  const provenance = admin.command('provenance').description('build provenance held by the index');
  withStorageOptions(
    provenance.command('pending').description('list pending (not yet bound) build provenance').option('--json', 'machine-readable output'),
  ).action(async (options: { dataDir?: string; databaseUrl?: string; json?: boolean }) => {
    await withServices(options, async (s) => {
      const rows = await s.pendingProvenance.listPending();
      if (options.json) {
        console.log(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) console.log('no pending build provenance');
      for (const r of rows) console.log(entryLine(r));
    });
  });
  withStorageOptions(
    provenance
      .command('purge')
      .description('remove pending build provenance by signer, filename or id (given together, all must match)')
      .option('--signer <identity>', "the signing identity (certificate SAN) as 'provenance pending' shows it")
      .option('--filename <name>', 'the distribution filename')
      .option('--id <id>', "one entry's id", pendingId)
      .option('--json', 'machine-readable output'),
  ).action(async (options: { dataDir?: string; databaseUrl?: string; json?: boolean; signer?: string; filename?: string; id?: number }) => {
    await withServices(options, async (s) => {
      const removed = await s.pendingProvenance.purge({
        ...(options.id !== undefined ? { id: options.id } : {}),
        ...(options.filename !== undefined ? { filename: options.filename } : {}),
        ...(options.signer !== undefined ? { signer: options.signer } : {}),
      });
      if (options.json) {
        console.log(JSON.stringify(removed, null, 2));
        return;
      }
      console.log(`removed ${removed.length} pending build provenance ${removed.length === 1 ? 'entry' : 'entries'}`);
      for (const r of removed) console.log(entryLine(r));
    });
  });
}
