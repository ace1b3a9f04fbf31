/**
 * The verified facts cairn records next to each attestation, and the PEP 740 provenance object
 * served by the integrity API. cairn's facts ride in a namespaced key (`cairn_verified`) of each
 * attestation bundle, so PEP 740 clients that do not know it still parse the object.
 */
export interface AttestationFacts {
  kind: 'build' | 'publish' | 'other';
  predicateType: string;
  issuer: string;
  identity: string;
  buildSignerUri: string | null;
  buildSignerDigest: string | null;
  sourceRepositoryUri: string | null;
  sourceRepositoryDigest: string | null;
  sourceRepositoryRef: string | null;
  buildConfigUri: string | null;
  runInvocationUri: string | null;
  runnerEnvironment: string | null;
  certificateNotBefore: string;
  certificateNotAfter: string;
  logIndex: string;
  integratedTime: string;
  /** From the SLSA predicate, for build provenance. */
  buildType: string | null;
  builderId: string | null;
  statementRepository: string | null;
  statementCommit: string | null;
  invocationId: string | null;
}

export interface StoredAttestation {
  /**
   * The attestation's JSON text as stored: the client's text exactly as received (DESIGN §4),
   * spliced unchanged into the provenance object. Rows stored before cairn kept received text
   * hold a re-serialisation of the same value.
   */
  storedText: string;
  facts: AttestationFacts;
  publisher: Record<string, unknown> | null;
  submittedBeforeUpload: boolean;
  /** False for a third party's attestation: served apart, never counted as the project's provenance. */
  firstParty: boolean;
  boundAt: string;
}

export const INTEGRITY_MEDIA_TYPE = 'application/vnd.pypi.integrity.v1+json';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
const GITLAB_ISSUER = 'https://gitlab.com';
const GOOGLE_ISSUER = 'https://accounts.google.com';

/**
 * PEP 740 groups attestations by "publisher". For a build attestation cairn names the signer in
 * PyPI's publisher shapes where the issuer has one, and a cairn kind otherwise.
 */
export function publisherOfSigner(facts: AttestationFacts): Record<string, unknown> {
  const repoPath = (uri: string | null, host: string) => (uri && uri.startsWith(host) ? uri.slice(host.length).replace(/^\/+/, '') : null);
  if (facts.issuer === GITHUB_ISSUER) {
    const workflowMatch = /\/\.github\/workflows\/([^@]+)@/.exec(facts.buildConfigUri ?? facts.identity);
    return {
      kind: 'GitHub',
      repository: repoPath(facts.sourceRepositoryUri, 'https://github.com') ?? '',
      workflow: workflowMatch?.[1] ?? '',
      environment: null,
      claims: null,
    };
  }
  if (facts.issuer === GITLAB_ISSUER) {
    return { kind: 'GitLab', repository: repoPath(facts.sourceRepositoryUri, 'https://gitlab.com') ?? '', environment: null, claims: null };
  }
  if (facts.issuer === GOOGLE_ISSUER) return { kind: 'Google', email: facts.identity, claims: null };
  return { kind: 'cairn:signer', issuer: facts.issuer, identity: facts.identity, claims: null };
}

function factsJson(a: StoredAttestation): Record<string, unknown> {
  const f = a.facts;
  return {
    kind: f.kind,
    predicate_type: f.predicateType,
    issuer: f.issuer,
    identity: f.identity,
    build_signer_uri: f.buildSignerUri,
    build_signer_digest: f.buildSignerDigest,
    source_repository_uri: f.sourceRepositoryUri,
    source_repository_digest: f.sourceRepositoryDigest,
    source_repository_ref: f.sourceRepositoryRef,
    build_config_uri: f.buildConfigUri,
    run_invocation_uri: f.runInvocationUri,
    runner_environment: f.runnerEnvironment,
    certificate_not_before: f.certificateNotBefore,
    certificate_not_after: f.certificateNotAfter,
    log_index: f.logIndex,
    integrated_time: f.integratedTime,
    build_type: f.buildType,
    builder_id: f.builderId,
    source_repository: f.statementRepository,
    source_commit: f.statementCommit,
    invocation_id: f.invocationId,
    bound_at: a.boundAt,
    submitted_before_upload: a.submittedBeforeUpload,
    first_party: a.firstParty,
  };
}

function bundlesText(attestations: readonly StoredAttestation[]): string {
  const bundles = new Map<string, { publisher: Record<string, unknown>; attestations: string[]; cairn_verified: Record<string, unknown>[] }>();
  for (const a of attestations) {
    const publisher = a.publisher ?? publisherOfSigner(a.facts);
    const key = JSON.stringify([publisher, a.facts.issuer, a.facts.identity]);
    const bundle = bundles.get(key) ?? { publisher, attestations: [], cairn_verified: [] };
    bundle.attestations.push(a.storedText);
    bundle.cairn_verified.push(factsJson(a));
    bundles.set(key, bundle);
  }
  const bundleTexts = [...bundles.values()].map(
    (b) => `{"publisher":${JSON.stringify(b.publisher)},"attestations":[${b.attestations.join(',')}],"cairn_verified":${JSON.stringify(b.cairn_verified)}}`,
  );
  return `[${bundleTexts.join(',')}]`;
}

/**
 * The PEP 740 provenance object as JSON text: one bundle per distinct publisher. Each attestation
 * is the stored text spliced in unchanged, so a client receives the bytes the signer's tool sent
 * (DESIGN §4), not a re-serialisation; the stored text is JSON that passed verification.
 *
 * Only first-party attestations are `attestation_bundles`, what PEP 740 clients (and `cairn
 * verify`) read as the file's provenance. Third parties' attestations ("also attested by") sit
 * apart under `cairn_third_party.attestation_bundles`, in the same shape, so nobody who merely
 * knows a public file's digest can change what its provenance says (issue 11).
 */
export function provenanceObjectText(attestations: StoredAttestation[]): string {
  const first = attestations.filter((a) => a.firstParty);
  const third = attestations.filter((a) => !a.firstParty);
  const apart = third.length > 0 ? `,"cairn_third_party":{"attestation_bundles":${bundlesText(third)}}` : '';
  return `{"version":1,"attestation_bundles":${bundlesText(first)}${apart}}`;
}
