import { Help, type Command } from 'commander';

export type Register = (program: Command) => void;

export interface CommandEntry {
  /** How `cairn --help` lists it: the command with its options and arguments, as commander prints it. */
  term: string;
  summary: string;
  load: () => Promise<Register>;
}

/**
 * Each top-level command and the module that registers it. Only the command being run is
 * loaded: every module pulls in its own dependency tree (sigstore, fastify, the database
 * drivers), and a verify or publish step in CI should not pay for all of them. `cairn --help`
 * loads none of them and lists the terms and summaries below; test/unit/cli-commands.test.ts
 * holds them equal to what the modules register.
 */
export const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    term: 'serve [options]',
    summary: 'run the index (default http://127.0.0.1:8470, SQLite + files under ./data)',
    load: async () => (await import('./serve.ts')).registerServe,
  },
  admin: { term: 'admin', summary: 'operator tasks on the index storage', load: async () => (await import('./admin.ts')).registerAdmin },
  'dev-trust': {
    term: 'dev-trust [options]',
    summary: 'run the dev trust domain standalone: OIDC issuer, Fulcio-style CA and Rekor-style log (never trust it in production)',
    load: async () => (await import('./dev-trust.ts')).registerDevTrust,
  },
  build: {
    term: 'build [options]',
    summary: 'the builder: clone REPO at COMMIT, build sdist + wheel, sign SLSA provenance, submit it to the index',
    load: async () => (await import('./build.ts')).registerBuild,
  },
  publish: {
    term: 'publish [options] <dist...>',
    summary: 'upload distributions, with trusted publishing and optional PEP 740 publish attestations',
    load: async () => (await import('./publish.ts')).registerPublish,
  },
  policy: {
    term: 'policy',
    summary: 'the consumer trust policy (which builders and publishers you trust)',
    load: async () => (await import('./policy.ts')).registerPolicy,
  },
  verify: {
    term: 'verify [options] [targets...]',
    summary: 'verify distributions and their provenance against your trust policy (TARGET: file, name==version, requirements.txt, pylock.toml)',
    load: async () => (await import('./verify.ts')).registerVerify,
  },
  proxy: {
    term: 'proxy [options]',
    summary: 'a local PEP 503/691 index for pip/uv that lists only files whose provenance passes your policy (default http://127.0.0.1:8472/simple/)',
    load: async () => (await import('./proxy.ts')).registerProxy,
  },
};

/** The command a command line runs (`cairn verify …`, `cairn help verify`), if it names one. */
export function requestedCommand(argv: readonly string[]): string | null {
  const [first, second] = argv;
  if (first !== undefined && first in COMMANDS) return first;
  if (first === 'help' && second !== undefined && second in COMMANDS) return second;
  return null;
}

/**
 * Lists every command without loading any: `cairn`, `cairn --help`, `cairn help`, or a command
 * line commander will refuse as unknown.
 */
export function registerSummaries(program: Command): void {
  for (const [name, entry] of Object.entries(COMMANDS)) program.command(name).description(entry.summary);
  const help = new Help();
  program.configureHelp({ subcommandTerm: (command) => COMMANDS[command.name()]?.term ?? help.subcommandTerm(command) });
}
