import { Command, CommanderError } from 'commander';
import { registerAdmin } from './admin.ts';
import { registerBuild } from './build.ts';
import { registerDevTrust } from './dev-trust.ts';
import { reportError } from './output.ts';
import { registerPublish } from './publish.ts';
import { registerServe } from './serve.ts';

const program = new Command()
  .name('cairn')
  .description('a Python package index that carries verifiable build provenance')
  .exitOverride()
  .showHelpAfterError();

registerServe(program);
registerAdmin(program);
registerDevTrust(program);
registerBuild(program);
registerPublish(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; every other commander complaint is a usage error.
    process.exit(error.exitCode === 0 ? 0 : 2);
  }
  process.exit(reportError(error));
}
