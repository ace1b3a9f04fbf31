import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { parseProjectStatus } from '../formats/project-status.ts';
import type { ApiTokenInfo } from '../server/auth/tokens.ts';
import { registerImportAdmin } from './import-admin.ts';
import { parseRowId, printListing } from './output.ts';
import { registerProvenanceAdmin } from './provenance-admin.ts';
import { registerPublisherAdmin } from './publisher.ts';
import { registerSessionAdmin } from './session-admin.ts';
import { registerTufAdmin } from './tuf-admin.ts';
import { describeDatabaseUrl, withServices, withStorageOptions } from './storage-options.ts';

type StorageFlags = { dataDir?: string; databaseUrl?: string };

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('operator tasks on the index storage');
  registerPublisherAdmin(admin);
  registerProvenanceAdmin(admin);
  registerTufAdmin(admin);
  registerImportAdmin(admin);

  const project = admin.command('project').description('projects');
  withStorageOptions(project.command('create <name>').description('create an empty project')).action(
    async (name: string, options: StorageFlags) => {
      await withServices(options, async (s) => {
        const row = await s.index.createProject(name, s.clock());
        console.log(`created project ${row.name} (${row.normalized_name})`);
      });
    },
  );

  registerSessionAdmin(admin, project);
  withStorageOptions(
    project
      .command('status <name> <status>')
      .description('set the PEP 792 status: active, archived (no new files), quarantined (no uploads, no downloads, hidden), deprecated')
      .option('--reason <text>', 'why, shown to users in the index, its APIs and cairn verify'),
  ).action(async (name: string, status: string, options: StorageFlags & { reason?: string }) => {
    const parsed = parseProjectStatus(status);
    await withServices(options, async (s) => {
      const row = await s.index.setProjectStatus(name, parsed, options.reason?.trim() || null, s.clock());
      console.log(`project ${row.name} is now ${row.status}${row.status_reason ? `: ${row.status_reason}` : ''}`);
    });
  });

  const token = admin.command('token').description('API tokens');
  withStorageOptions(
    token
      .command('create')
      .description('create an upload token; it is printed once and stored only as a hash')
      .option('--project <name...>', 'scope the token to these projects')
      .option('--new-projects', 'the token may create new projects (and becomes their owner)')
      .option('--description <text>', 'a note for operators', '')
      .option('--expires-in-days <n>', 'expire after this many days'),
  ).action(async (options: StorageFlags & { project?: string[]; newProjects?: boolean; description: string; expiresInDays?: string }) => {
    if (!options.project && !options.newProjects) {
      throw new CairnError('usage.invalid_argument', 'say what the token may do: --project NAME or --new-projects');
    }
    if (options.project && options.newProjects) {
      throw new CairnError('usage.invalid_argument', '--project and --new-projects cannot be combined; create two tokens');
    }
    let expiresAt: Date | null = null;
    if (options.expiresInDays !== undefined) {
      const days = Number(options.expiresInDays);
      if (!Number.isFinite(days) || days <= 0) throw new CairnError('usage.invalid_argument', '--expires-in-days must be a positive number');
      expiresAt = new Date(Date.now() + days * 86400_000);
    }
    await withServices(options, async (s) => {
      const created = await s.tokens.create({
        scope: options.newProjects ? 'new_projects' : 'projects',
        projects: options.project ?? [],
        description: options.description,
        expiresAt,
        now: s.clock(),
      });
      // stdout carries the token alone, for `TOKEN=$(cairn admin token create …)`.
      console.error(`created token ${created.tokenId}; it is shown once (revoke with: cairn admin token revoke ${created.tokenId})`);
      // The index the token lives in: a server started on another data directory will refuse it.
      console.error(`index: ${describeDatabaseUrl(s.config.databaseUrl)}`);
      console.log(created.token);
    });
  });

  withStorageOptions(
    token
      .command('list')
      .description('list tokens: id, scope, projects, state (never the token itself)')
      .option('--all', 'also list ended trusted-publishing tokens (they live 15 minutes)')
      .option('--json', 'machine-readable output'),
  ).action(async (options: StorageFlags & { all?: boolean; json?: boolean }) => {
    await withServices(options, async (s) => {
      const tokens = await s.tokens.list(s.clock(), { includeEndedPublishing: options.all === true });
      printListing(tokens, { json: options.json, empty: 'no API tokens', header: TOKEN_LIST_HEADER, line: describeToken, toJson: tokenJson });
    });
  });

  withStorageOptions(
    token.command('revoke <id>').description('revoke a token at once (uploads with it are refused); the id comes from token list'),
  ).action(async (id: string, options: StorageFlags) => {
    const numeric = parseRowId(id, 'token');
    await withServices(options, async (s) => {
      const revoked = await s.tokens.revoke(numeric, s.clock());
      console.log(`revoked token ${describeToken(revoked)}`);
    });
  });

  withStorageOptions(
    admin
      .command('delete-release <name> <version>')
      .description('delete a release and its files; their filenames can never be reused'),
  ).action(async (name: string, version: string, options: StorageFlags) => {
    await withServices(options, async (s) => {
      const removed = await s.index.deleteRelease(name, version);
      for (const sha256 of removed.orphanedBlobs) await s.blobs.remove(sha256);
      console.log(`deleted ${name} ${version}: ${removed.filenames.join(', ') || 'no files'}`);
    });
  });

  const blobs = admin.command('blobs').description('the blob store (files, or S3-compatible object storage)');
  withStorageOptions(
    blobs
      .command('sweep')
      .description('delete stored blobs no file references (left by crashes or an unreachable store)')
      .option('--older-than <age>', 'only blobs written this long ago or earlier (30s, 15m, 2h): uploads in flight are kept', '1h')
      .option('--dry-run', 'list the orphans, delete nothing'),
  ).action(async (options: StorageFlags & { olderThan: string; dryRun?: boolean }) => {
    const age = /^(\d+)(s|m|h)$/.exec(options.olderThan.trim());
    if (!age || Number(age[1]) === 0) {
      throw new CairnError('usage.invalid_argument', `--older-than must be an age such as 90s, 15m or 2h (an upload may be in flight: keep it above the longest upload), got ${JSON.stringify(options.olderThan)}`);
    }
    const ms = Number(age[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[age[2] as 's' | 'm' | 'h'];
    await withServices(options, async (s) => {
      const swept = await s.uploads.sweepOrphanBlobs({ olderThan: new Date(s.clock().getTime() - ms), dryRun: options.dryRun });
      for (const sha256 of swept.orphans) console.log(`${options.dryRun ? 'orphan' : 'deleted'} ${sha256}`);
      console.log(`${swept.orphans.length} orphan blob(s) ${options.dryRun ? 'found' : 'deleted'}; ${swept.intentsReleased} interrupted upload(s) released`);
    });
  });

  withStorageOptions(
    admin
      .command('yank <name> <version>')
      .description('yank a release (PEP 592): installers skip it unless pinned exactly')
      .option('--reason <text>', 'why it was yanked', '')
      .option('--undo', 'un-yank the release'),
  ).action(async (name: string, version: string, options: StorageFlags & { reason: string; undo?: boolean }) => {
    await withServices(options, async (s) => {
      const release = await s.index.setYanked(name, version, !options.undo, options.reason || null);
      console.log(`${options.undo ? 'un-yanked' : 'yanked'} ${name} ${release.version}`);
    });
  });
}

/** The columns of `token list`, in the order describeToken writes them. */
const TOKEN_LIST_HEADER = ['ID', 'STATE', 'SCOPE', 'CREATED', 'EXPIRES', 'LAST USED', 'DESCRIPTION'].join('\t');

function describeToken(t: ApiTokenInfo): string {
  const scope = t.scope === 'new_projects' ? 'new-projects' : `${t.scope}:${t.projects.join(',')}`;
  const until = t.state === 'revoked' ? `revoked ${t.revokedAt}` : t.expiresAt ? `${t.state === 'expired' ? 'expired' : 'expires'} ${t.expiresAt}` : 'no expiry';
  const used = t.lastUsedAt ? `last used ${t.lastUsedAt}` : 'never used';
  return `${t.id}\t${t.state}\t${scope}\tcreated ${t.createdAt}\t${until}\t${used}${t.description ? `\t${t.description}` : ''}`;
}

function tokenJson(t: ApiTokenInfo): Record<string, unknown> {
  return {
    id: t.id,
    state: t.state,
    scope: t.scope,
    projects: t.projects,
    description: t.description,
    created_at: t.createdAt,
    expires_at: t.expiresAt,
    revoked_at: t.revokedAt,
    last_used_at: t.lastUsedAt,
  };
}
