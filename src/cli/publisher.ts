import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import type { TrustedPublisher } from '../server/publishing/trusted-publishers.ts';
import { PUBLISHER_KINDS as KINDS, type PublisherKind } from '../trust/publisher-claims.ts';
import { parseRowId, printListing } from './output.ts';
import { withServices, withStorageOptions } from './storage-options.ts';

type StorageFlags = { dataDir?: string; databaseUrl?: string };

function describe(p: TrustedPublisher): string {
  const target = p.pending ? `${p.projectName} (pending: created by its first exchange)` : p.projectName;
  const environment = p.environment ? ` environment=${p.environment}` : '';
  return `${p.id}\t${target}\t${p.kind}\t${p.issuer}\t${p.repository}\t${p.workflow}${environment}`;
}

function asJson(p: TrustedPublisher): Record<string, unknown> {
  return {
    id: p.id,
    project: p.projectName,
    pending: p.pending,
    kind: p.kind,
    issuer: p.issuer,
    repository: p.repository,
    workflow: p.workflow,
    environment: p.environment,
    created_at: p.createdAt,
  };
}

/** `cairn admin publisher add|list|remove` (DESIGN §9): trusted publishers per project. */
export function registerPublisherAdmin(admin: Command): void {
  const publisher = admin.command('publisher').description('trusted publishers (OIDC identities allowed to publish a project)');

  withStorageOptions(
    publisher
      .command('add')
      .description('let a CI workflow publish a project; a project that does not exist yet gets a pending publisher')
      .requiredOption('--project <name>', 'the project the workflow may publish')
      .requiredOption('--issuer <url>', 'OIDC issuer (token iss), e.g. https://token.actions.githubusercontent.com')
      .requiredOption('--repository <owner/repo>', 'GitHub OWNER/REPO, GitLab NAMESPACE/PROJECT, or a Google service account email')
      .requiredOption('--workflow <file>', 'GitHub workflow file name (release.yml) or GitLab CI file path; for Google the required sub, or ""')
      .option('--environment <env>', 'require this deployment environment')
      .option('--kind <kind>', `claim rules: ${KINDS.join(', ')} (default: from the issuer; other issuers use GitHub-style "dev")`)
      .option('--json', 'machine-readable output'),
  ).action(
    async (
      options: StorageFlags & { project: string; issuer: string; repository: string; workflow: string; environment?: string; kind?: string; json?: boolean },
    ) => {
      if (options.kind !== undefined && !(KINDS as readonly string[]).includes(options.kind)) {
        throw new CairnError('usage.invalid_argument', `--kind must be one of ${KINDS.join(', ')}, got '${options.kind}'`);
      }
      await withServices(options, async (s) => {
        const added = await s.publishers.add(
          {
            project: options.project,
            issuer: options.issuer,
            kind: options.kind as PublisherKind | undefined,
            repository: options.repository,
            workflow: options.workflow,
            environment: options.environment,
          },
          s.clock(),
        );
        if (options.json) console.log(JSON.stringify(asJson(added), null, 2));
        else console.log(`added trusted publisher ${describe(added)}`);
      });
    },
  );

  withStorageOptions(
    publisher
      .command('list')
      .description('list trusted publishers')
      .option('--project <name>', 'only this project')
      .option('--json', 'machine-readable output'),
  ).action(async (options: StorageFlags & { project?: string; json?: boolean }) => {
    await withServices(options, async (s) => {
      const publishers = await s.publishers.list(options.project);
      printListing(publishers, { json: options.json, empty: 'no trusted publishers', line: describe, toJson: asJson });
    });
  });

  withStorageOptions(
    publisher.command('remove <id>').description('remove a trusted publisher; tokens it minted stop working at once'),
  ).action(async (id: string, options: StorageFlags) => {
    const numeric = parseRowId(id, 'publisher');
    await withServices(options, async (s) => {
      const removed = await s.publishers.remove(numeric, s.clock());
      console.log(`removed trusted publisher ${describe(removed)}`);
    });
  });
}
