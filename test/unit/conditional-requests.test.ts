import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { answerConditional, ifNoneMatchMatches, parseIfNoneMatch } from '../../src/http/conditional.ts';

describe('If-None-Match comparison (RFC 9110 §13.1.2: weak comparison)', () => {
  const strong = '"abc"';
  const cases: [string | undefined, string, boolean, string][] = [
    [undefined, strong, false, 'no condition'],
    ['"abc"', strong, true, 'the same strong tag'],
    ['"abd"', strong, false, 'another tag'],
    ['W/"abc"', strong, true, 'a weak tag matches the strong one with the same opaque tag'],
    ['"abc"', 'W/"abc"', true, 'a strong tag matches a weak current tag'],
    ['W/"abc"', 'W/"abc"', true, 'weak against weak'],
    ['"x", "abc"', strong, true, 'any member of a list'],
    ['"x","y" ,\t"abc"', strong, true, 'list whitespace'],
    ['"x", , "abc"', strong, true, 'empty list elements are ignored'],
    ['"x", "y"', strong, false, 'no member matches'],
    ['*', strong, true, '* matches any current representation'],
    [' * ', strong, true, '* with surrounding whitespace'],
    ['"a,b"', '"a,b"', true, 'a comma inside a tag is part of it'],
    ['"a,b"', '"a"', false, 'a comma inside a tag does not split it'],
    ['abc', strong, false, 'an unquoted tag is malformed: no match'],
    ['"abc', strong, false, 'an unterminated tag is malformed'],
    ['"abc" "abc"', strong, false, 'tags not separated by a comma are malformed'],
    ['"ab c"', '"ab c"', false, 'a space is not an etagc'],
    ['w/"abc"', strong, false, 'the weak prefix is case-sensitive'],
    ['"ABC"', strong, false, 'opaque tags compare octet by octet'],
    ['', strong, false, 'an empty field'],
    ['"abc", *', strong, false, '* inside a list is malformed'],
  ];
  for (const [field, etag, expected, why] of cases) {
    test(`${JSON.stringify(field)} vs ${etag}: ${why}`, () => {
      assert.equal(ifNoneMatchMatches(field, etag), expected);
    });
  }

  test('the parser keeps each tag with its weakness', () => {
    assert.deepEqual(parseIfNoneMatch('W/"a", "b"'), [
      { weak: true, opaque: '"a"' },
      { weak: false, opaque: '"b"' },
    ]);
    assert.equal(parseIfNoneMatch('*'), '*');
    assert.equal(parseIfNoneMatch('nonsense'), null);
  });
});

describe('answerConditional', () => {
  const app = Fastify();
  const etag = '"v1"';
  app.route({
    method: ['GET', 'HEAD', 'POST'],
    url: '/thing',
    exposeHeadRoute: false,
    handler: async (request, reply) => {
      reply.header('ETag', etag).header('Cache-Control', 'no-cache');
      if (answerConditional(request, reply, etag)) return reply;
      return reply.type('text/plain').send('body');
    },
  });

  test('GET with a matching tag answers 304 with the validators and no body', async () => {
    const response = await app.inject({ method: 'GET', url: '/thing', headers: { 'if-none-match': 'W/"v1"' } });
    assert.equal(response.statusCode, 304);
    assert.equal(response.headers.etag, etag);
    assert.equal(response.headers['cache-control'], 'no-cache');
    assert.equal(response.body, '');
  });

  test('HEAD is answered like GET', async () => {
    assert.equal((await app.inject({ method: 'HEAD', url: '/thing', headers: { 'if-none-match': '*' } })).statusCode, 304);
  });

  test('a tag that does not match, or none, gets the representation', async () => {
    const stale = await app.inject({ method: 'GET', url: '/thing', headers: { 'if-none-match': '"v0"' } });
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.body, 'body');
    assert.equal((await app.inject({ method: 'GET', url: '/thing' })).statusCode, 200);
  });

  test('other methods are never answered 304', async () => {
    assert.equal((await app.inject({ method: 'POST', url: '/thing', headers: { 'if-none-match': '*' } })).statusCode, 200);
  });
});
