import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CairnError, problemBody, PROBLEM_MEDIA_TYPE } from '../../src/errors.ts';

/** RFC 9457 problem details as the shared error handling formats them for new endpoints. */
test('RFC 9457 members, the stable code, and PEP 807\'s error shape', () => {
  const body = problemBody(new CairnError('oidc.bad_audience', "the OIDC token's aud is 'x', this index wants 'cairn'"));
  assert.equal(PROBLEM_MEDIA_TYPE, 'application/problem+json');
  assert.deepEqual(body, {
    type: 'https://cairn.dev/errors/oidc.bad_audience',
    title: 'OIDC: bad audience',
    status: 422,
    detail: "the OIDC token's aud is 'x', this index wants 'cairn'",
    code: 'oidc.bad_audience',
    message: "the OIDC token's aud is 'x', this index wants 'cairn'",
    errors: [{ code: 'oidc.bad_audience', description: "the OIDC token's aud is 'x', this index wants 'cairn'" }],
  });
});

test('the title is the same for every occurrence of a code; details ride along', () => {
  const a = problemBody(new CairnError('auth.token_used', 'used at 1'));
  const b = problemBody(new CairnError('auth.token_used', 'used at 2', { used_at: '2' }));
  assert.equal(a.title, b.title);
  assert.equal(a.title, 'Auth: token used');
  assert.equal(b.status, 403);
  assert.deepEqual(b.details, { used_at: '2' });
  assert.equal('details' in a, false);
});
