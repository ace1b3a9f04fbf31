import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptsGzip } from '../../src/http/content-encoding.ts';

describe('Accept-Encoding (RFC 9110 §12.5.3)', () => {
  test('gzip is used when the client names it, or accepts anything, with a non-zero weight', () => {
    const cases: [string | undefined, boolean][] = [
      ['gzip, deflate', true], // pip (urllib3)
      ['gzip, deflate, br, zstd', true], // browsers
      ['GZIP', true],
      ['x-gzip', true],
      ['br;q=1.0, gzip;q=0.5', true],
      ['*', true],
      ['*;q=0.1', true],
      ['gzip;q=0', false],
      ['gzip;q=0, *', false], // gzip refused by name wins over the wildcard
      ['*;q=0', false],
      ['identity', false],
      ['br', false],
      ['', false],
      [undefined, false],
      ['gzip;q=nonsense', false],
    ];
    for (const [field, expected] of cases) assert.equal(acceptsGzip(field), expected, String(field));
    assert.equal(acceptsGzip(['br', 'gzip']), true, 'repeated fields are one list');
  });
});
