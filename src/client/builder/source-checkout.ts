import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CairnError } from '../../errors.ts';
import { isCommitDigest } from '../../formats/digests.ts';

const run = promisify(execFile);

async function git(cwd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('git', args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    return stdout.trim();
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new CairnError('build.failed', `git ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/**
 * Clones `repository` into `dir` and checks out exactly `commit`. Only a full commit digest is
 * accepted — a branch, tag or abbreviated SHA could name other code tomorrow, and the provenance
 * must name what was built.
 */
export async function checkoutExactCommit(repository: string, commit: string, dir: string): Promise<void> {
  if (!isCommitDigest(commit)) {
    throw new CairnError('build.bad_commit', `--commit must be a full 40- or 64-hex commit SHA, got '${commit}' (refs and short SHAs can move)`);
  }
  await git(process.cwd(), ['clone', '--quiet', '--no-checkout', repository, dir]);
  try {
    await git(dir, ['cat-file', '-e', `${commit}^{commit}`]);
  } catch {
    throw new CairnError('build.bad_commit', `commit ${commit} does not exist in ${repository}`);
  }
  await git(dir, ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit]);
  const head = await git(dir, ['rev-parse', 'HEAD']);
  if (head !== commit) throw new CairnError('build.commit_mismatch', `checked out ${head}, not the requested ${commit}`);
  await assertCleanTree(dir, 'after checkout');
}

/**
 * The tree must equal the commit: tracked files modified (by checkout filters, or by the build
 * itself) mean the distributions were not built from the commit the provenance names.
 */
export async function assertCleanTree(dir: string, when: string): Promise<void> {
  const status = await git(dir, ['status', '--porcelain', '--untracked-files=no']);
  if (status !== '') {
    throw new CairnError('build.dirty_tree', `the working tree differs from the commit ${when}:\n${status}`);
  }
}
