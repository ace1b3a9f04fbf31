import { CairnError } from '../errors.ts';

/** PEP 508 / core metadata: ASCII letters and digits, with `.`, `_`, `-` inside, starting and ending alphanumeric. */
const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;

/** PEP 503 normal form: lowercase, every run of `-`, `_`, `.` becomes one `-`. */
export function normalizeProjectName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export function isValidProjectName(name: string): boolean {
  return name.length <= 200 && VALID_NAME.test(name);
}

export function assertValidProjectName(name: string): void {
  if (!isValidProjectName(name)) {
    throw new CairnError(
      'name.invalid',
      `Invalid project name '${name.slice(0, 100)}': names use ASCII letters, digits, '.', '_' and '-', and start and end with a letter or digit`,
    );
  }
}

/**
 * The form in which two names look alike to a reader, as PyPI compares them (warehouse's
 * `ultranormalize_name`): lowercase, separators removed, `o` read as `0` and `l`, `i` as `1`.
 * `examp1e`, `exampl-e` and `Example` all fold to `examp1e`. The server's SQL index uses the
 * same folding (storage/migrations.ts `ULTRANORMALIZED_NAME_SQL`).
 */
export function ultranormalizeProjectName(name: string): string {
  return normalizeProjectName(name).replace(/-/g, '').replace(/o/g, '0').replace(/[li]/g, '1');
}
