import { Command, CommanderError } from 'commander';
import { reportError } from './output.ts';

type Register = (program: Command) => void;

/**
 * Each top-level command and the module that registers it. Only the command being run is
 * loaded: every module pulls in its own dependency tree (sigstore, fastify, the database
 * drivers), and a verify or publish step in CI should not pay for all of them.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./serve.ts')).registerServe,
  admin: async () => (await import('./admin.ts')).registerAdmin,
  'dev-trust': async () => (await import('./dev-trust.ts')).registerDevTrust,
  build: async () => (await import('./build.ts')).registerBuild,
  publish: async () => (await import('./publish.ts')).registerPublish,
  policy: async () => (await import('./policy.ts')).registerPolicy,
  verify: async () => (await import('./verify.ts')).registerVerify,
  proxy: async () => (await import('./proxy.ts')).registerProxy,
};

const program = new Command()
  .name('cairn')
  .description('a Python package index that carries verifiable build provenance')
  .exitOverride()
  .showHelpAfterError();

try {
  const requested = process.argv[2];
  const names = requested !== undefined && requested in COMMANDS ? [requested] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]!())(program);
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; every other commander complaint is a usage error.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  process.exit(reportError(error));
}
