import type { Command } from 'commander';
import { withServices, withStorageOptions } from './storage-options.ts';

/** `cairn admin provenance pending`: what builders submitted that no upload has bound yet. */
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
      for (const r of rows) console.log(`${r.filename}  sha256:${r.sha256}  signer ${r.signer_identity}  expires ${r.expires_at}`);
    });
  });
}
