import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { COMMANDS, registerSummaries, requestedCommand } from './commands.ts';
import { reportError } from './output.ts';

// package.json sits two levels up from both src/cli/main.ts and dist/cli/main.js.
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('cairn')
  .description('a Python package index that carries verifiable build provenance')
  .version(version, '-V, --version', 'print the version of cairn')
  .exitOverride()
  .showHelpAfterError();

try {
  const requested = requestedCommand(process.argv.slice(2));
  if (requested) (await COMMANDS[requested]!.load())(program);
  else registerSummaries(program);
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; every other commander complaint is a usage error.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  process.exit(reportError(error));
}
