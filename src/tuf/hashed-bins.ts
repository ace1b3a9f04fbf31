import { createHash } from 'node:crypto';
import { CairnError } from '../errors.ts';

/**
 * TUF hashed-bin delegation (TUF specification §4.5 `path_hash_prefixes`; PEP 458 "bin-n" roles):
 * a target belongs to the bin whose prefixes include the first hex digits of SHA-256(target path).
 * The prefix space (16^prefixLength values) is split into `count` contiguous, equal ranges.
 */
export interface HashedBin {
  name: string;
  /** Lowercase hex prefixes of length `prefixLength`, ascending. */
  prefixes: string[];
}

export interface HashedBinLayout {
  count: number;
  prefixLength: number;
  bins: HashedBin[];
}

export const MAX_BIN_COUNT = 16 ** 4;

export function isValidBinCount(count: number): boolean {
  return Number.isInteger(count) && count >= 2 && count <= MAX_BIN_COUNT && (count & (count - 1)) === 0;
}

export function hashedBinLayout(count: number): HashedBinLayout {
  if (!isValidBinCount(count)) {
    throw new CairnError('config.invalid', `the number of TUF bins must be a power of two from 2 to ${MAX_BIN_COUNT}, got ${count}`);
  }
  const prefixLength = Math.ceil(Math.log2(count) / 4);
  const prefixCount = 16 ** prefixLength;
  const perBin = prefixCount / count;
  const hex = (n: number) => n.toString(16).padStart(prefixLength, '0');
  const bins: HashedBin[] = [];
  for (let index = 0; index < count; index++) {
    const prefixes: string[] = [];
    for (let p = index * perBin; p < (index + 1) * perBin; p++) prefixes.push(hex(p));
    const first = prefixes[0]!;
    const last = prefixes[prefixes.length - 1]!;
    bins.push({ name: perBin === 1 ? `bin-${first}` : `bin-${first}-${last}`, prefixes });
  }
  return { count, prefixLength, bins };
}

/** SHA-256 of the target path's UTF-8 bytes, as TUF clients compute it for `path_hash_prefixes`. */
export function targetPathHash(targetPath: string): string {
  return createHash('sha256').update(targetPath, 'utf8').digest('hex');
}

export function binIndexOf(layout: HashedBinLayout, targetPath: string): number {
  const prefix = parseInt(targetPathHash(targetPath).slice(0, layout.prefixLength), 16);
  return Math.floor(prefix / (16 ** layout.prefixLength / layout.count));
}

export function binOf(layout: HashedBinLayout, targetPath: string): HashedBin {
  return layout.bins[binIndexOf(layout, targetPath)]!;
}
