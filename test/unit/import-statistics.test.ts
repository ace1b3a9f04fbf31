import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANALYZE_GROWTH, ANALYZE_MIN_FILES, statisticsDue } from '../../src/server/catalogue/import-statistics.ts';

test('an import into an empty index takes statistics after its first few thousand files, then as the table grows by half', () => {
  assert.equal(statisticsDue(ANALYZE_MIN_FILES - 1, 0), false);
  assert.equal(statisticsDue(ANALYZE_MIN_FILES, 0), true);
  assert.equal(statisticsDue(ANALYZE_MIN_FILES, 100_000), false, 'a small import into a large index waits for its end');
  assert.equal(statisticsDue(100_000 * ANALYZE_GROWTH, 100_000), true);

  // Following the schedule through a 1M-file import, 1,000 files per transaction.
  let atLast = 0;
  let since = 0;
  const taken: number[] = [];
  for (let imported = 1000; imported <= 1_000_000; imported += 1000) {
    since += 1000;
    if (statisticsDue(since, atLast)) {
      taken.push(imported);
      atLast = imported;
      since = 0;
    }
  }
  assert.equal(taken[0], ANALYZE_MIN_FILES);
  assert.ok(taken.length >= 8 && taken.length <= 16, `a few times, not per batch: ${taken.join(', ')}`);
  for (let i = 1; i < taken.length; i++) {
    // Checked after each transaction: at most one transaction's files past the threshold.
    const allowed = Math.max(ANALYZE_MIN_FILES, ANALYZE_GROWTH * taken[i - 1]!) + 1000;
    assert.ok(taken[i]! - taken[i - 1]! <= allowed, `never more than half again without statistics: ${taken[i - 1]} → ${taken[i]}`);
  }
});
