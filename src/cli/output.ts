import { exitCodeFor, isCairnError, type ExitCode } from '../errors.ts';

/** Prints an error the way every command does and returns the exit code DESIGN §9 assigns. */
export function reportError(error: unknown): ExitCode {
  if (isCairnError(error)) {
    console.error(`error [${error.code}]: ${error.message}`);
    return exitCodeFor(error.code);
  }
  console.error(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 3;
}
