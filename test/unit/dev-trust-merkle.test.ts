import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inclusionPath, leafHash, merkleRoot, nodeHash } from '../../src/devtrust/merkle.ts';

/** RFC 9162 §2.1.3.2, written independently of the module under test. */
function verifyInclusion(index: number, size: number, leaf: Buffer, path: Buffer[], root: Buffer): boolean {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.equals(root);
}

describe('dev trust log Merkle tree (RFC 6962)', () => {
  const leaves = Array.from({ length: 33 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));

  test('the empty tree hashes to SHA-256 of nothing', () => {
    assert.equal(merkleRoot([]).toString('hex'), createHash('sha256').digest('hex'));
  });

  test('leaf and node hashes use the 0x00 / 0x01 prefixes', () => {
    assert.equal(leafHash(Buffer.from('a')).toString('hex'), createHash('sha256').update(Buffer.from([0, 0x61])).digest('hex'));
    const [a, b] = [leaves[0]!, leaves[1]!];
    assert.deepEqual(merkleRoot([a, b]), createHash('sha256').update(Buffer.from([1])).update(a).update(b).digest());
  });

  test('every audit path for trees of 1..33 leaves verifies, and only for its own leaf', () => {
    for (let size = 1; size <= leaves.length; size++) {
      const root = merkleRoot(leaves, 0, size);
      for (let index = 0; index < size; index++) {
        const path = inclusionPath(leaves, index, size);
        assert.ok(verifyInclusion(index, size, leaves[index]!, path, root), `leaf ${index} of ${size}`);
        if (size > 1) assert.ok(!verifyInclusion(index, size, leaves[(index + 1) % size]!, path, root));
      }
    }
  });

  test('a subtree cache shared across growing trees changes no result', () => {
    const cache = new Map<string, Buffer>();
    for (let size = 1; size <= leaves.length; size++) {
      assert.deepEqual(merkleRoot(leaves, 0, size, cache), merkleRoot(leaves, 0, size));
      for (let index = 0; index < size; index++) {
        assert.deepEqual(inclusionPath(leaves, index, size, cache), inclusionPath(leaves, index, size));
      }
    }
  });

  test('an index outside the tree is refused', () => {
    assert.throws(() => inclusionPath(leaves, 5, 5), RangeError);
  });
});
