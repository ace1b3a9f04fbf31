import type { Kysely } from 'kysely';
import type { AttestationFacts } from '../../formats/provenance-object.ts';
import type { UploadPublisher } from '../provenance/upload-attestations.ts';
import type { Database } from '../storage/schema.ts';
import type { TokenPrincipal } from '../auth/tokens.ts';
import { findTrustedPublisher, repositoryKey, storedClaims, type OidcClaims, type TrustedPublisher } from './trusted-publishers.ts';

/**
 * The trusted publisher behind an upload, for PEP 740 publish attestations: they must be signed
 * by the same CI identity that earned the upload token.
 */
export async function publisherForPrincipal(db: Kysely<Database>, principal: TokenPrincipal): Promise<UploadPublisher | null> {
  if (principal.scope !== 'publishing') return null;
  const link = await db.selectFrom('publishing_tokens').selectAll().where('token_id', '=', principal.tokenId).executeTakeFirst();
  if (!link) return null;
  const publisher = await findTrustedPublisher(db, link.publisher_id);
  if (!publisher) return null;
  const claims = JSON.parse(link.claims_json) as OidcClaims;
  return {
    publisher: pep740Publisher(publisher, claims),
    mismatch: (facts) => signerMismatch(publisher, facts),
  };
}

/** PEP 740 publisher objects in the shapes pypi-attestations defines (kind GitHub/GitLab/Google). */
export function pep740Publisher(publisher: TrustedPublisher, claims: OidcClaims): Record<string, unknown> {
  const kept = storedClaims(publisher.kind, claims);
  switch (publisher.kind) {
    case 'github':
      return { kind: 'GitHub', repository: publisher.repository, workflow: publisher.workflow, environment: publisher.environment, claims: kept };
    case 'gitlab':
      return { kind: 'GitLab', repository: publisher.repository, workflow_filepath: publisher.workflow, environment: publisher.environment, claims: kept };
    case 'google':
      return { kind: 'Google', email: publisher.repository, claims: kept };
    case 'dev':
      // Not a PyPI kind: PEP 740 lets indexes define their own; clients that do not know it skip it.
      return {
        kind: 'cairn:dev',
        issuer: publisher.issuer,
        repository: publisher.repository,
        workflow: publisher.workflow,
        environment: publisher.environment,
        claims: kept,
      };
  }
}

/**
 * Whether a Fulcio certificate was issued to this publisher's CI identity. The workflow is read
 * from the Build Config URI (the caller's workflow, like `workflow_ref`), not the SAN (which names
 * a reusable builder when one is called), consistently with how the token was matched.
 */
export function signerMismatch(publisher: TrustedPublisher, facts: AttestationFacts): string | null {
  if (facts.issuer !== publisher.issuer) return `signer issuer ${facts.issuer} is not the publisher's ${publisher.issuer}`;
  if (publisher.kind === 'google') {
    return facts.identity === publisher.repository ? null : `signer ${facts.identity} is not the publisher's ${publisher.repository}`;
  }
  if (!facts.sourceRepositoryUri) return 'the signing certificate names no source repository';
  if (repositoryKey(facts.sourceRepositoryUri) !== repositoryKey(publisher.repository)) {
    return `the signer's repository ${facts.sourceRepositoryUri} is not the publisher's ${publisher.repository}`;
  }
  const configUri = facts.buildConfigUri ?? facts.identity;
  const workflow =
    publisher.kind === 'gitlab'
      ? (/\/\/([^@]+)@[^@]*$/.exec(configUri.replace(/^[a-z]+:\/\//, ''))?.[1] ?? null)
      : (/\/\.github\/workflows\/([^/@]+)@/.exec(configUri)?.[1] ?? null);
  if (workflow !== publisher.workflow) {
    return `the signer's workflow ${workflow ?? `(none in ${configUri})`} is not the publisher's ${publisher.workflow}`;
  }
  return null;
}
