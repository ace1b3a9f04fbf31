import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCommitDigest, isSha256Hex } from '../../src/formats/digests.ts';

test('isSha256Hex accepts 64 lower-case hex characters only', () => {
  assert.equal(isSha256Hex('a'.repeat(64)), true);
  for (const bad of ['A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), `${'a'.repeat(63)}g`, ` ${'a'.repeat(64)}`, `${'a'.repeat(64)}\n`, null, 42]) {
    assert.equal(isSha256Hex(bad), false, String(bad));
  }
});

test('isCommitDigest accepts full SHA-1 and SHA-256 commit ids, not abbreviations', () => {
  assert.equal(isCommitDigest('c'.repeat(40)), true);
  assert.equal(isCommitDigest('c'.repeat(64)), true);
  for (const bad of ['c'.repeat(7), 'c'.repeat(41), 'C'.repeat(40), 'c'.repeat(63), undefined]) assert.equal(isCommitDigest(bad), false, String(bad));
});
