import { createHash } from 'node:crypto';

/** RFC 6962 §2.1: leaves and interior nodes are hashed with distinct prefixes (second-preimage defence). */
export function leafHash(leaf: Buffer): Buffer {
  return createHash('sha256').update(Buffer.from([0x00])).update(leaf).digest();
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(Buffer.from([0x01])).update(left).update(right).digest();
}

/**
 * Hashes of complete subtrees, keyed "start:end". In an append-only log a complete subtree never
 * changes, so a log keeps one cache for its lifetime and proofs cost O(log n) amortised.
 */
export type SubtreeCache = Map<string, Buffer>;

/** MTH(D[start:end]) over already-hashed leaves (RFC 6962 §2.1). */
export function merkleRoot(leafHashes: readonly Buffer[], start = 0, end = leafHashes.length, cache?: SubtreeCache): Buffer {
  const n = end - start;
  if (n === 0) return createHash('sha256').digest();
  if (n === 1) return leafHashes[start]!;
  const complete = (n & (n - 1)) === 0;
  const key = `${start}:${end}`;
  const cached = complete ? cache?.get(key) : undefined;
  if (cached) return cached;
  const k = largestPowerOfTwoBelow(n);
  const hash = nodeHash(merkleRoot(leafHashes, start, start + k, cache), merkleRoot(leafHashes, start + k, end, cache));
  if (complete) cache?.set(key, hash);
  return hash;
}

/**
 * PATH(m, D[0:n]) of RFC 6962 §2.1.1: the audit path for leaf `index` in the tree of the first
 * `treeSize` leaves, ordered from the leaf's sibling upwards (the order verifiers consume).
 */
export function inclusionPath(leafHashes: readonly Buffer[], index: number, treeSize: number, cache?: SubtreeCache): Buffer[] {
  if (index < 0 || index >= treeSize || treeSize > leafHashes.length) {
    throw new RangeError(`no leaf ${index} in a tree of size ${treeSize}`);
  }
  const path = (m: number, start: number, end: number): Buffer[] => {
    const n = end - start;
    if (n === 1) return [];
    const k = largestPowerOfTwoBelow(n);
    return m < k
      ? [...path(m, start, start + k), merkleRoot(leafHashes, start + k, end, cache)]
      : [...path(m - k, start + k, end), merkleRoot(leafHashes, start, start + k, cache)];
  };
  return path(index, 0, treeSize);
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
