import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { loadPolicy } from '../client/load-policy.ts';
import { EXAMPLE_POLICY, explainPolicy, policyWarnings } from '../policy/index.ts';

export const DEFAULT_POLICY_FILE = 'cairn-policy.toml';

/** `--policy FILE`, env CAIRN_POLICY, else ./cairn-policy.toml when it exists. */
export function policyPath(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const path = given ?? env.CAIRN_POLICY ?? (existsSync(DEFAULT_POLICY_FILE) ? DEFAULT_POLICY_FILE : undefined);
  if (!path) {
    throw new CairnError('usage.invalid_argument', `no policy: give --policy FILE (or set CAIRN_POLICY); \`cairn policy init\` writes an example to ${DEFAULT_POLICY_FILE}`);
  }
  return path;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('the consumer trust policy (which builders and publishers you trust)');

  policy
    .command('init [path]')
    .description(`write a commented example policy (default ${DEFAULT_POLICY_FILE})`)
    .option('--force', 'overwrite an existing file')
    .action((path: string | undefined, options: { force?: boolean }) => {
      const target = path ?? DEFAULT_POLICY_FILE;
      if (existsSync(target) && !options.force) throw new CairnError('usage.invalid_argument', `${target} exists; pass --force to overwrite it`);
      writeFileSync(target, EXAMPLE_POLICY);
      console.log(`wrote ${target}: edit [[builders]] and [[publishers]] to name the signers you trust, then run \`cairn policy explain NAME --policy ${target}\``);
    });

  policy
    .command('explain <name>')
    .description('say what the policy demands of project NAME and why')
    .option('--policy <file>', `the policy file (env CAIRN_POLICY; default ./${DEFAULT_POLICY_FILE})`)
    .action((name: string, options: { policy?: string }) => {
      console.log(explainPolicy(loadPolicy(policyPath(options.policy), { as: 'path' }), name).text);
    });

  policy
    .command('check [path]')
    .description('validate a policy file (errors name the line and key)')
    .action((path: string | undefined) => {
      const loaded = loadPolicy(policyPath(path), { as: 'path' });
      console.log(`${loaded.source}: valid (${loaded.builders.length} builder(s), ${loaded.publishers.length} publisher(s), ${loaded.projects.size} project rule(s))`);
      // Valid is not the same as useful: a rule nobody can satisfy is worth a warning (exit stays 0).
      for (const warning of policyWarnings(loaded)) console.error(`warning: ${warning}`);
    });
}
