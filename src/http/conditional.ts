import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The entity-tags of an `If-None-Match` field value (RFC 9110 §8.8.3, §13.1.2): `*`, or a list of
 * `W/"…"` and `"…"` tags. A comma may sit inside a tag's quotes, so the list is scanned, not split.
 * A value that does not follow the grammar yields null: a malformed condition is not evaluated.
 */
export function parseIfNoneMatch(fieldValue: string): '*' | { weak: boolean; opaque: string }[] | null {
  const value = fieldValue.trim();
  if (value === '*') return '*';
  const tags: { weak: boolean; opaque: string }[] = [];
  let i = 0;
  const skipSpace = () => {
    while (value[i] === ' ' || value[i] === '\t') i++;
  };
  while (i < value.length) {
    skipSpace();
    // Empty list elements are allowed (RFC 9110 §5.6.1: `#rule` tolerates `a, , b`).
    if (value[i] === ',') {
      i++;
      continue;
    }
    if (i >= value.length) break;
    let weak = false;
    if (value.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (value[i] !== '"') return null;
    const end = value.indexOf('"', i + 1);
    if (end < 0) return null;
    const opaque = value.slice(i + 1, end);
    // etagc = %x21 / %x23-7E / obs-text: no space, no control character, no quote.
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x20\x7f]/.test(opaque)) return null;
    tags.push({ weak, opaque: `"${opaque}"` });
    i = end + 1;
    skipSpace();
    if (i < value.length && value[i] !== ',') return null;
  }
  return tags.length > 0 ? tags : null;
}

/**
 * Whether `If-None-Match` names the current representation, whose entity-tag is `etag` (with
 * its quotes, `W/` prefix if weak). RFC 9110 §13.1.2 compares weakly: `W/"x"` matches `"x"`, so
 * a cache that holds a weakened copy (a proxy that re-compressed it) still revalidates.
 */
export function ifNoneMatchMatches(fieldValue: string | undefined, etag: string): boolean {
  if (fieldValue === undefined) return false;
  const condition = parseIfNoneMatch(fieldValue);
  if (condition === null) return false;
  // `*` matches any current representation, and the caller has one.
  if (condition === '*') return true;
  const current = etag.startsWith('W/') ? etag.slice(2) : etag;
  return condition.some((tag) => tag.opaque === current);
}

/**
 * Answers 304 Not Modified when the request's `If-None-Match` names `etag`, and says whether it
 * did. Only GET and HEAD are answered 304 (RFC 9110 §13.1.2); the caller sets the headers a 304
 * must repeat (ETag, Cache-Control, Vary) before calling.
 */
export function answerConditional(request: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const header = request.headers['if-none-match'];
  if (!ifNoneMatchMatches(Array.isArray(header) ? header.join(', ') : header, etag)) return false;
  void reply.code(304).send();
  return true;
}
