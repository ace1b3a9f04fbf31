import type { Dirent } from 'node:fs';
import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { CairnError, type ErrorCode } from '../../errors.ts';

/** A file the import will read: found in the tree, or reached through a symlink that stays inside it. */
export interface WalkedFile {
  kind: 'file';
  /** As the operator will recognise it: the directory given, joined with the path below it. */
  path: string;
  /** The distribution filename: the entry's own name (a symlink's, not its target's). */
  name: string;
  /** What to open: the path itself, or a symlink's resolved target. */
  open: string;
  /** True when `open` is a symlink's target: opening the path itself would follow the link. */
  viaSymlink: boolean;
}

/** An entry refused by the walk itself, before any byte is read. */
export interface WalkRefusal {
  kind: 'refused';
  path: string;
  name: string;
  code: ErrorCode;
  message: string;
}

export type WalkEntry = WalkedFile | WalkRefusal;

/** The directory as given and as resolved; the resolved one is what "inside" is measured against. */
export interface ImportRoot {
  given: string;
  real: string;
}

/** Checks that every directory exists before anything is imported: a typo should not import half. */
export async function resolveImportRoots(directories: readonly string[]): Promise<ImportRoot[]> {
  if (directories.length === 0) throw new CairnError('usage.invalid_argument', 'name at least one directory to import');
  const roots: ImportRoot[] = [];
  for (const given of directories) {
    let real: string;
    try {
      real = await realpath(given);
    } catch (error) {
      throw new CairnError('usage.invalid_argument', `cannot import '${given}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (!(await stat(real)).isDirectory()) throw new CairnError('usage.invalid_argument', `cannot import '${given}': not a directory`);
    roots.push({ given, real });
  }
  return roots;
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

function typeName(entry: Dirent | { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string {
  if (entry.isFIFO()) return 'a FIFO';
  if (entry.isSocket()) return 'a socket';
  if (entry.isBlockDevice() || entry.isCharacterDevice()) return 'a device';
  return 'not a regular file';
}

function errnoText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  return e.code ?? e.message;
}

/**
 * Every file below a directory of distributions, depth first and in name order (so which of two
 * copies of a filename wins is the same on every run): flat directories (`pip download`,
 * pypiserver's default), one subdirectory per project (pypiserver's other layout), or any nesting.
 *
 * Names starting with '.' are skipped, as pypiserver skips them. A symlink is followed only while
 * its target stays inside the directory being imported: a link to /etc/shadow named `x-1.0.tar.gz`
 * must not publish that file. A symlink to a directory inside the tree adds nothing (its target
 * is walked anyway, and skipping it cannot loop).
 */
export async function* walkImportDirectory(root: ImportRoot): AsyncGenerator<WalkEntry> {
  const pending: { real: string; shown: string }[] = [{ real: root.real, shown: root.given }];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(dir.real, { withFileTypes: true });
    } catch (error) {
      yield { kind: 'refused', path: dir.shown, name: '', code: 'import.unreadable', message: `cannot list directory ${dir.shown}: ${errnoText(error)}` };
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: { real: string; shown: string }[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const real = join(dir.real, entry.name);
      const shown = join(dir.shown, entry.name);
      if (entry.isDirectory()) {
        subdirs.push({ real, shown });
      } else if (entry.isFile()) {
        yield { kind: 'file', path: shown, name: entry.name, open: real, viaSymlink: false };
      } else if (entry.isSymbolicLink()) {
        const followed = await followSymlink(root, real, shown, entry.name);
        if (followed) yield followed;
      } else {
        yield { kind: 'refused', path: shown, name: entry.name, code: 'import.unreadable', message: `${shown} is ${typeName(entry)}, not a regular file` };
      }
    }
    // Reversed onto the stack so the first subdirectory is walked first.
    for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]!);
  }
}

/** The file a symlink stands for, a refusal, or null for a directory inside the tree (walked anyway). */
async function followSymlink(root: ImportRoot, real: string, shown: string, name: string): Promise<WalkEntry | null> {
  let target: string;
  try {
    target = await realpath(real);
  } catch (error) {
    // A dangling link still says where it points; pointing out of the tree is the graver fault.
    const pointsTo = await readlink(real).then((link) => resolve(dirname(real), link), () => null);
    if (pointsTo !== null && !isInside(root.real, pointsTo)) {
      return { kind: 'refused', path: shown, name, code: 'import.outside_directory', message: `${shown} is a symlink to ${pointsTo}, outside ${root.given}` };
    }
    return { kind: 'refused', path: shown, name, code: 'import.unreadable', message: `${shown} is a symlink that cannot be followed: ${errnoText(error)}` };
  }
  if (!isInside(root.real, target)) {
    return { kind: 'refused', path: shown, name, code: 'import.outside_directory', message: `${shown} is a symlink to ${target}, outside ${root.given}` };
  }
  let info;
  try {
    info = await stat(target);
  } catch (error) {
    return { kind: 'refused', path: shown, name, code: 'import.unreadable', message: `${shown} is a symlink that cannot be followed: ${errnoText(error)}` };
  }
  if (info.isDirectory()) return null;
  if (!info.isFile()) return { kind: 'refused', path: shown, name, code: 'import.unreadable', message: `${shown} links to ${typeName(info)}, not a regular file` };
  return { kind: 'file', path: shown, name, open: target, viaSymlink: true };
}
