import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errors } from 'jose';
import { CairnError } from '../../src/errors.ts';
import { oidcErrorFromJose, type OidcTokenContext } from '../../src/trust/jose-errors.ts';

const remote: OidcTokenContext = { token: 'the OIDC token', issuer: 'https://issuer.example', expectedAudience: "'cairn'", otherwise: 'oidc.issuer_unavailable' };
const local: OidcTokenContext = { ...remote, token: 'the identity token', expectedAudience: 'accepted here', otherwise: 'oidc.malformed_token' };

test('jose errors map to the same oidc.* code for every verifier', () => {
  const claim = (name: string) => new errors.JWTClaimValidationFailed(`"${name}" claim check failed`, {}, name);
  const cases: [unknown, string][] = [
    [new errors.JWTExpired('"exp" claim timestamp check failed', {}, 'exp'), 'oidc.expired'],
    [claim('aud'), 'oidc.bad_audience'],
    [claim('iss'), 'oidc.bad_issuer'],
    [claim('nbf'), 'oidc.not_yet_valid'],
    [claim('iat'), 'oidc.not_yet_valid'],
    [claim('sub'), 'oidc.malformed_token'],
    [new errors.JWKSNoMatchingKey(), 'oidc.unknown_key'],
    [new errors.JWKSMultipleMatchingKeys(), 'oidc.unknown_key'],
    [new errors.JWSSignatureVerificationFailed(), 'oidc.bad_signature'],
    [new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed'), 'oidc.bad_algorithm'],
    [new errors.JWKSTimeout(), 'oidc.issuer_unavailable'],
    [new errors.JWKSInvalid('bad key set'), 'oidc.issuer_unavailable'],
    [new errors.JWSInvalid('Invalid Compact JWS'), 'oidc.malformed_token'],
  ];
  for (const context of [remote, local]) {
    for (const [error, code] of cases) {
      const mapped = oidcErrorFromJose(error, context);
      assert.equal(mapped.code, code, `${(error as Error).constructor.name} (${context.token})`);
      assert.ok(mapped.message.includes(code === 'oidc.issuer_unavailable' || code === 'oidc.unknown_key' ? context.issuer : context.token), mapped.message);
    }
  }
});

test('a failure that is not jose\'s takes the verifier\'s own code; a CairnError passes through', () => {
  assert.equal(oidcErrorFromJose(new TypeError('fetch failed'), remote).code, 'oidc.issuer_unavailable');
  assert.equal(oidcErrorFromJose(new TypeError('fetch failed'), local).code, 'oidc.malformed_token');
  const own = new CairnError('oidc.replayed', 'seen');
  assert.equal(oidcErrorFromJose(own, remote), own);
});

test('the bad-audience message says what the audience should have been', () => {
  const error = new errors.JWTClaimValidationFailed('unexpected "aud" claim value', {}, 'aud');
  assert.match(oidcErrorFromJose(error, remote).message, /audience is not 'cairn'/);
  assert.match(oidcErrorFromJose(error, local).message, /audience is not accepted here/);
});
