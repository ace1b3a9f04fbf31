import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { resolveImportRoots, walkImportDirectory, type WalkEntry } from '../../src/server/catalogue/import-walk.ts';
import { isCairnError } from '../../src/errors.ts';

/** The directory walk of `cairn admin import`: what it yields, in which order, and what it refuses. */
const work = mkdtempSync(join(tmpdir(), 'cairn-walk-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function walk(dir: string): Promise<WalkEntry[]> {
  const [root] = await resolveImportRoots([dir]);
  const entries: WalkEntry[] = [];
  for await (const entry of walkImportDirectory(root!)) entries.push(entry);
  return entries;
}

function summary(entries: WalkEntry[], base: string) {
  return entries.map((e) => (e.kind === 'file' ? ['file', e.path.slice(base.length + 1), e.name] : ['refused', e.path.slice(base.length + 1), e.code]));
}

test('a nested pypiserver layout is walked depth first in name order; hidden entries are skipped', async () => {
  const root = join(work, 'nested');
  mkdirSync(join(root, 'beta', 'deeper'), { recursive: true });
  mkdirSync(join(root, 'alpha'), { recursive: true });
  mkdirSync(join(root, '.git', 'objects'), { recursive: true });
  for (const path of ['zeta-1.0.tar.gz', 'alpha/alpha-1.0.tar.gz', 'alpha/alpha-1.0-py3-none-any.whl', 'beta/beta-2.0.tar.gz', 'beta/deeper/beta-1.0.tar.gz', '.git/objects/x', '.DS_Store']) {
    writeFileSync(join(root, path), path);
  }
  assert.deepEqual(summary(await walk(root), root), [
    ['file', 'zeta-1.0.tar.gz', 'zeta-1.0.tar.gz'],
    ['file', 'alpha/alpha-1.0-py3-none-any.whl', 'alpha-1.0-py3-none-any.whl'],
    ['file', 'alpha/alpha-1.0.tar.gz', 'alpha-1.0.tar.gz'],
    ['file', 'beta/beta-2.0.tar.gz', 'beta-2.0.tar.gz'],
    ['file', 'beta/deeper/beta-1.0.tar.gz', 'beta-1.0.tar.gz'],
  ]);
});

test('symlinks: followed inside the tree, refused outside it or when broken; a linked directory inside adds nothing', async () => {
  const root = join(work, 'links');
  const outside = join(work, 'outside');
  mkdirSync(join(root, 'pkgs'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(root, 'pkgs', 'real-1.0.tar.gz'), 'real');
  writeFileSync(join(outside, 'secret-1.0.tar.gz'), 'secret');
  symlinkSync(join('pkgs', 'real-1.0.tar.gz'), join(root, 'alias-1.0.tar.gz'));
  symlinkSync(join(outside, 'secret-1.0.tar.gz'), join(root, 'escape-1.0.tar.gz'));
  symlinkSync('../outside/secret-1.0.tar.gz', join(root, 'relative-escape-1.0.tar.gz'));
  symlinkSync('../outside/missing-1.0.tar.gz', join(root, 'dangling-escape-1.0.tar.gz'));
  symlinkSync(outside, join(root, 'outside-dir'));
  symlinkSync('pkgs', join(root, 'pkgs-again'));
  symlinkSync('.', join(root, 'loop'));
  symlinkSync('missing-1.0.tar.gz', join(root, 'broken-1.0.tar.gz'));

  const entries = await walk(root);
  assert.deepEqual(summary(entries, root), [
    ['file', 'alias-1.0.tar.gz', 'alias-1.0.tar.gz'],
    ['refused', 'broken-1.0.tar.gz', 'import.unreadable'],
    ['refused', 'dangling-escape-1.0.tar.gz', 'import.outside_directory'],
    ['refused', 'escape-1.0.tar.gz', 'import.outside_directory'],
    ['refused', 'outside-dir', 'import.outside_directory'],
    ['refused', 'relative-escape-1.0.tar.gz', 'import.outside_directory'],
    ['file', 'pkgs/real-1.0.tar.gz', 'real-1.0.tar.gz'],
  ]);
  const alias = entries[0]!;
  assert.equal(alias.kind === 'file' && alias.viaSymlink && alias.open, join(realpathSync(root), 'pkgs', 'real-1.0.tar.gz'), 'a link is read at its resolved target');
  const regular = entries[6]!;
  assert.equal(regular.kind === 'file' && regular.viaSymlink, false);
});

test('a directory given through a symlink is measured by where it resolves', async () => {
  const real = join(work, 'real-root');
  mkdirSync(real, { recursive: true });
  writeFileSync(join(real, 'inner-1.0.tar.gz'), 'x');
  symlinkSync(join(real, 'inner-1.0.tar.gz'), join(real, 'inner-link-1.0.tar.gz'));
  symlinkSync(real, join(work, 'root-link'));
  assert.deepEqual(summary(await walk(join(work, 'root-link')), join(work, 'root-link')), [
    ['file', 'inner-1.0.tar.gz', 'inner-1.0.tar.gz'],
    ['file', 'inner-link-1.0.tar.gz', 'inner-link-1.0.tar.gz'],
  ]);
});

test('directories that do not exist, or are files, are a usage error before anything is walked', async () => {
  writeFileSync(join(work, 'plain-file'), 'x');
  for (const dirs of [[join(work, 'nope')], [work, join(work, 'plain-file')], []]) {
    await assert.rejects(resolveImportRoots(dirs), (error) => isCairnError(error) && error.code === 'usage.invalid_argument');
  }
});
