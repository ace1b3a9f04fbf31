import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { crc32, gunzipSync } from 'node:zlib';
import { crc32Combine, deflateSegment, gzipFromSegments, inflateSegment } from '../../src/formats/gzip-segments.ts';

describe('gzip from independently deflated segments', () => {
  test('crc32Combine equals the CRC of the concatenation, for lengths across byte and word boundaries', () => {
    for (const [a, b] of [[0, 5], [1, 1], [7, 8], [100, 3], [4096, 65537], [3, 0]] as const) {
      const left = randomBytes(a);
      const right = randomBytes(b);
      assert.equal(crc32Combine(crc32(left), crc32(right), right.length), crc32(Buffer.concat([left, right])), `${a}+${b}`);
    }
  });

  test('segments concatenate into one gzip stream that zlib inflates to the joined text', () => {
    const parts = ['<!DOCTYPE html>\n<html><body>\n', ...Array.from({ length: 50 }, (_, i) => `    <a href="p${i}/">p${i}</a><br />\n`.repeat(i % 7)), '</body></html>\n'];
    const buffers = gzipFromSegments(parts.map((p) => deflateSegment(p)));
    assert.equal(gunzipSync(Buffer.concat(buffers)).toString('utf8'), parts.join(''));
  });

  test('an empty document and incompressible bytes both round-trip', () => {
    assert.equal(gunzipSync(Buffer.concat(gzipFromSegments([]))).length, 0);
    const noise = [randomBytes(70_000), randomBytes(1), randomBytes(300)];
    assert.deepEqual(gunzipSync(Buffer.concat(gzipFromSegments(noise.map((n) => deflateSegment(n))))), Buffer.concat(noise));
  });

  test('a segment inflates back to its own bytes on its own', () => {
    assert.equal(inflateSegment(deflateSegment('<a href="x/">x</a>\n'.repeat(40)).deflate).toString(), '<a href="x/">x</a>\n'.repeat(40));
    assert.equal(inflateSegment(deflateSegment('').deflate).length, 0);
    assert.equal(inflateSegment(Buffer.alloc(0)).length, 0);
  });

  test('a segment can be replaced without touching the others', () => {
    const segments = ['a'.repeat(1000), 'b'.repeat(1000), 'c'.repeat(1000)].map((p) => deflateSegment(p));
    segments[1] = deflateSegment('B'.repeat(10));
    assert.equal(gunzipSync(Buffer.concat(gzipFromSegments(segments))).toString(), `${'a'.repeat(1000)}${'B'.repeat(10)}${'c'.repeat(1000)}`);
  });
});
