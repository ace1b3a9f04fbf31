import { createHash } from 'node:crypto';
import { CairnError } from '../errors.ts';

/**
 * Succinct hashed-bin delegation (TAP 15; TUF specification §4.5 `succinct_roles`): a target
 * belongs to bin `n`, the number formed by the leftmost `bits` bits of SHA-256(target path), and
 * bin `n` is the role `bin-<n in hex, zero-padded to the width of the last bin>`. The delegating
 * role names only the bit length, so the number of bins can grow with the catalogue without
 * listing thousands of roles. For bit lengths that are multiples of four these are exactly the
 * PEP 458 `bin-n` roles and hash prefixes.
 */
export const BIN_NAME_PREFIX = 'bin';
export const MAX_BIN_BITS = 16;

/** Targets are stored with their slot (the leftmost 16 bits of the path hash); a bin is a slot range. */
export const SLOT_BITS = 16;

export interface HashedBin {
  name: string;
  index: number;
  /** Slots [first, last] this bin holds. */
  firstSlot: number;
  lastSlot: number;
}

export interface HashedBinLayout {
  bits: number;
  count: number;
  bins: HashedBin[];
}

export function isValidBinCount(count: number): boolean {
  return Number.isInteger(count) && count >= 2 && count <= 2 ** MAX_BIN_BITS && (count & (count - 1)) === 0;
}

export function binName(bits: number, index: number): string {
  const width = (2 ** bits - 1).toString(16).length;
  return `${BIN_NAME_PREFIX}-${index.toString(16).padStart(width, '0')}`;
}

export function hashedBinLayout(count: number): HashedBinLayout {
  if (!isValidBinCount(count)) {
    throw new CairnError('config.invalid', `the number of TUF bins must be a power of two from 2 to ${2 ** MAX_BIN_BITS}, got ${count}`);
  }
  const bits = Math.log2(count);
  const perBin = 2 ** (SLOT_BITS - bits);
  const bins: HashedBin[] = [];
  for (let index = 0; index < count; index++) {
    bins.push({ name: binName(bits, index), index, firstSlot: index * perBin, lastSlot: (index + 1) * perBin - 1 });
  }
  return { bits, count, bins };
}

/** SHA-256 of the target path's UTF-8 bytes, as TUF clients compute it. */
export function targetPathHash(targetPath: string): string {
  return createHash('sha256').update(targetPath, 'utf8').digest('hex');
}

export function slotOf(targetPath: string): number {
  return createHash('sha256').update(targetPath, 'utf8').digest().readUInt16BE(0);
}

export function binIndexOfSlot(bits: number, slot: number): number {
  return slot >>> (SLOT_BITS - bits);
}

export function binOf(layout: HashedBinLayout, targetPath: string): HashedBin {
  return layout.bins[binIndexOfSlot(layout.bits, slotOf(targetPath))]!;
}
