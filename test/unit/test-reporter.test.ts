import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCommand } from '../support/commands.ts';

/**
 * The closing counts `npm test` prints (scripts/test-reporter.mjs): a suite skipped for a missing
 * tool counts as a skipped test, and every skip is listed with its reason (issue 14, item 10).
 */
const ROOT = new URL('../../', import.meta.url).pathname;

test('a skipped suite is counted in the closing counts and listed with its reason', async () => {
  const result = await runCommand(
    process.execPath,
    ['--conditions=cairn-source', '--import', 'tsx', '--test', `--test-reporter=${new URL('../../scripts/test-reporter.mjs', import.meta.url).href}`, '--test-reporter-destination=stdout', 'test/fixtures/skip-report/skips.fixture.ts'],
    // A test's child inherits NODE_TEST_CONTEXT, which would make it report to this runner instead.
    { cwd: ROOT, timeoutMs: 60_000, env: { NODE_TEST_CONTEXT: undefined } },
  );
  assert.equal(result.status, 0, result.output);
  assert.match(result.stdout, /^ℹ tests 3$/m);
  assert.match(result.stdout, /^ℹ pass 1$/m);
  assert.match(result.stdout, /^ℹ skipped 2$/m);
  assert.match(result.stdout, /^ {2}- test\/fixtures\/skip-report\/skips\.fixture\.ts › suite a suite whose tool is missing # MISSING REQUIREMENT: chromium$/m);
  assert.match(result.stdout, /^ {2}- test\/fixtures\/skip-report\/skips\.fixture\.ts › a skipped test # not today$/m);
});
