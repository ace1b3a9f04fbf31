import { promisify } from 'node:util';
import { constants, crc32, deflateRawSync, inflateRaw, inflateRawSync } from 'node:zlib';

/**
 * One gzip stream (RFC 1952) assembled from independently compressed pieces, so a large document
 * kept in parts (the `/simple/` root, as chunks of projects) is served compressed without
 * compressing all of it again when one part changes. Each piece is raw deflate ending in a full
 * flush: byte-aligned, no final block, no back-references across the boundary (RFC 1951 §3.2.3,
 * zlib's Z_FULL_FLUSH), so pieces concatenate into one valid deflate stream.
 */
export interface DeflateSegment {
  /** Raw deflate bytes, not final, ending on a byte boundary. */
  deflate: Buffer;
  /** CRC-32 of the uncompressed bytes. */
  crc32: number;
  /** Length of the uncompressed bytes. */
  length: number;
}

export function deflateSegment(bytes: Buffer | string): DeflateSegment {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return { deflate: deflateRawSync(data, { finishFlush: constants.Z_FULL_FLUSH }), crc32: crc32(data), length: data.length };
}

/** A segment has no final block, so inflating stops at its last flush. */
const SEGMENT_INFLATE = { finishFlush: constants.Z_SYNC_FLUSH };
const inflateRawAsync = promisify(inflateRaw);

/** The bytes of a segment back. */
export function inflateSegment(deflate: Buffer): Buffer {
  if (deflate.length === 0) return Buffer.alloc(0);
  return inflateRawSync(deflate, SEGMENT_INFLATE);
}

/** `inflateSegment` on libuv's threads, for many or large segments. */
export async function inflateSegmentAsync(deflate: Buffer): Promise<Buffer> {
  if (deflate.length === 0) return Buffer.alloc(0);
  return inflateRawAsync(deflate, SEGMENT_INFLATE);
}

/** ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown): no name or time, so equal input gives equal bytes. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);
/** A final, empty block with fixed Huffman codes (BFINAL=1, BTYPE=01, end-of-block): ends the deflate stream. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/** The buffers of one gzip member holding `segments` in order; write them out as they are. */
export function gzipFromSegments(segments: readonly DeflateSegment[]): Buffer[] {
  let crc = 0;
  let length = 0;
  for (const segment of segments) {
    crc = crc32Combine(crc, segment.crc32, segment.length);
    length += segment.length;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1).
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  return [GZIP_HEADER, ...segments.map((s) => s.deflate), FINAL_EMPTY_BLOCK, trailer];
}

// CRC-32 of A followed by B from crc(A), crc(B) and len(B), without the bytes: zlib's crc32_combine,
// which applies len(B) zero bits to crc(A) as a linear map over GF(2), squaring the map per bit
// of the length. 0xedb88320 is the reflected CRC-32 polynomial.
function gf2MatrixTimes(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i]!;
  return sum >>> 0;
}

function gf2MatrixSquare(square: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2MatrixTimes(matrix, matrix[n]!);
}

export function crc32Combine(crc1: number, crc2: number, length2: number): number {
  if (length2 <= 0) return crc1 >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = 0xedb88320;
  let row = 1;
  for (let n = 1; n < 32; n++, row <<= 1) odd[n] = row;
  gf2MatrixSquare(even, odd); // two zero bits
  gf2MatrixSquare(odd, even); // four zero bits
  let result = crc1 >>> 0;
  let remaining = length2;
  // The first squaring below makes one zero byte (eight zero bits).
  do {
    gf2MatrixSquare(even, odd);
    if (remaining % 2 === 1) result = gf2MatrixTimes(even, result);
    remaining = Math.floor(remaining / 2);
    if (remaining === 0) break;
    gf2MatrixSquare(odd, even);
    if (remaining % 2 === 1) result = gf2MatrixTimes(odd, result);
    remaining = Math.floor(remaining / 2);
  } while (remaining !== 0);
  return (result ^ crc2) >>> 0;
}
