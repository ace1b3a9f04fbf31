import { errors as joseErrors } from 'jose';
import { CairnError, type ErrorCode } from '../errors.ts';

/** What the messages name, so each verifier of OIDC tokens speaks about its own token and issuer. */
export interface OidcTokenContext {
  /** How messages name the token: "the OIDC token", "the identity token". */
  token: string;
  /** The issuer whose keys must verify the token. */
  issuer: string;
  /** What the audience should have been, as the caller wants it said ("'cairn' (…)", "accepted here"). */
  expectedAudience: string;
  /**
   * The code for a failure that is not jose's own: with a remote key set it is the issuer that
   * could not be read; with local keys nothing but the token can be at fault.
   */
  otherwise: Extract<ErrorCode, 'oidc.issuer_unavailable' | 'oidc.malformed_token'>;
}

/**
 * jose's verification errors as cairn's stable `oidc.*` codes. The codes are the contract (tests
 * and clients branch on them), so every OIDC verifier maps through this one table: the same bad
 * token is refused with the same code by the Trusted Publishing exchange and the dev CA.
 */
export function oidcErrorFromJose(error: unknown, context: OidcTokenContext): CairnError {
  if (error instanceof CairnError) return error;
  const { token, issuer } = context;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof joseErrors.JWTExpired) return new CairnError('oidc.expired', `${token} has expired: ${message}`);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud':
        return new CairnError('oidc.bad_audience', `${token}'s audience is not ${context.expectedAudience}: ${message}`);
      case 'iss':
        return new CairnError('oidc.bad_issuer', `${token} was not issued by ${issuer}: ${message}`);
      case 'nbf':
      case 'iat':
        return new CairnError('oidc.not_yet_valid', `${token} is not valid yet: ${message}`);
      default:
        return new CairnError('oidc.malformed_token', `${token}'s claims are invalid: ${message}`);
    }
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return new CairnError('oidc.unknown_key', `no key of ${issuer} matches ${token}'s kid`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new CairnError('oidc.bad_signature', `${token}'s signature does not verify with ${issuer}'s keys`);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new CairnError('oidc.bad_algorithm', `${token}'s algorithm is not allowed: ${message}`);
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
    return new CairnError('oidc.issuer_unavailable', `cannot read the signing keys of ${issuer}: ${message}`);
  }
  if (error instanceof joseErrors.JOSEError) return new CairnError('oidc.malformed_token', `${token} is malformed: ${message}`);
  return context.otherwise === 'oidc.issuer_unavailable'
    ? new CairnError('oidc.issuer_unavailable', `cannot read the signing keys of ${issuer}: ${message}`)
    : new CairnError('oidc.malformed_token', `${token} is malformed: ${message}`);
}
