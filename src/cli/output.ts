import { CairnError, exitCodeFor, isCairnError, type ExitCode } from '../errors.ts';

/** Prints an error the way every command does and returns the exit code DESIGN §9 assigns. */
export function reportError(error: unknown): ExitCode {
  if (isCairnError(error)) {
    console.error(`error [${error.code}]: ${error.message}`);
    return exitCodeFor(error.code);
  }
  console.error(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 3;
}

/** Operator listings: JSON with `--json`, else a header row and one line per item, or a sentence when empty. */
export function printListing<T>(items: readonly T[], options: { json?: boolean; empty: string; header?: string; line: (item: T) => string; toJson: (item: T) => unknown }): void {
  if (options.json) {
    console.log(JSON.stringify(items.map(options.toJson), null, 2));
    return;
  }
  if (items.length === 0) console.log(options.empty);
  else if (options.header) console.log(options.header);
  for (const item of items) console.log(options.line(item));
}

/** Row ids given on the command line (`token revoke 3`, `publisher remove 2`). */
export function parseRowId(raw: string, what: string): number {
  const id = Number(raw);
  if (!Number.isInteger(id) || id <= 0) throw new CairnError('usage.invalid_argument', `the ${what} id is a positive number, got '${raw}'`);
  return id;
}

