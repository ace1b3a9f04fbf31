import type { ErrorCode } from '../errors.ts';
import type { AttestationFacts } from '../formats/provenance-object.ts';

/**
 * The consumer policy (DESIGN §10) as cairn uses it after parsing and validation. Field names
 * are camelCase here; the TOML file uses the kebab-case keys documented in docs/policy.md.
 */

/** What a project's files must carry: build provenance, a publish attestation, either, or nothing. */
export type RequiredKind = 'build' | 'publish' | 'any' | 'none';

/**
 * What to do when a release is signed by different identities than the project's earlier
 * releases: ignore it, report it (the default), or fail verification.
 */
export type ContinuityMode = 'off' | 'warn' | 'fail';

/** A trusted build-provenance signer: exact OIDC issuer, glob on the certificate's identity (SAN). */
export interface BuilderRule {
  issuer: string;
  /** Glob: `*` any run of characters except `/`, `**` any run including `/`, `?` one character except `/`. */
  identity: string;
  /** 1-based line of the `[[builders]]` header in the policy file, for explanations. */
  line?: number;
}

/**
 * A trusted publish-attestation signer, in PyPI's trusted-publisher terms: a CI repository (and
 * optionally its workflow), or, for issuers that certify people or service accounts (Google,
 * GitHub OAuth), an identity glob.
 */
export interface PublisherRule {
  issuer: string;
  /** OWNER/REPO (glob allowed), compared with the certificate's source repository. */
  repository?: string;
  /** Glob on the signing identity (e.g. an email); set instead of `repository`. */
  identity?: string;
  /** Workflow file name (e.g. `release.yml`, glob allowed); any workflow when absent. */
  workflow?: string;
  line?: number;
}

export interface ProjectRule {
  /** Normalised (PEP 503) project name. */
  name: string;
  require?: RequiredKind;
  /** The repository the attestation that satisfies the rule must name (https URL). */
  sourceRepository?: string;
  identityContinuity?: ContinuityMode;
  line?: number;
}

export interface Policy {
  version: 1;
  defaults: { require: RequiredKind; identityContinuity: ContinuityMode };
  builders: BuilderRule[];
  publishers: PublisherRule[];
  /** Keyed by normalised project name. */
  projects: Map<string, ProjectRule>;
  /** Where the policy came from (a path, or `<text>`), for messages. */
  source: string;
}

/** A signer as continuity compares it: the kind, exact issuer and identity without its `@ref`. */
export interface SignerIdentity {
  kind: AttestationFacts['kind'];
  issuer: string;
  identity: string;
}

export interface PolicyInput {
  /** Project name as given (normalised inside). */
  project: string;
  version: string;
  filename: string;
  /** Facts of attestations that verified cryptographically for this file (never unverified ones). */
  attestations: AttestationFacts[];
  /**
   * Signer identities seen on the project's earlier releases (union). Undefined: history not
   * known, continuity not checked; empty: earlier releases carried no provenance.
   */
  previousIdentities?: SignerIdentity[];
  /** Signer identities of the other files of the same release, for the `inconsistent` check. */
  siblingIdentities?: { filename: string; identities: SignerIdentity[] }[];
}

/**
 * - `unknown`: no history was given; `new`: no earlier release carried provenance;
 * - `same`: every current signer was seen before; `extended`: some current signers are new, some known;
 * - `changed`: no current signer was seen before; `lost`: earlier releases had provenance, this file none;
 * - `inconsistent`: files of this release are signed by disjoint sets of identities.
 */
export type ContinuityStatus = 'unknown' | 'new' | 'same' | 'extended' | 'changed' | 'lost' | 'inconsistent';

export interface ContinuityReport {
  status: ContinuityStatus;
  current: SignerIdentity[];
  previous: SignerIdentity[];
  message?: string;
}

export interface PolicyVerdict {
  pass: boolean;
  /** Set when `pass` is false. */
  code?: ErrorCode;
  /** One sentence a user can act on, pass or fail. */
  reason: string;
  /** What the project rule demanded (after defaults). */
  required: RequiredKind;
  /** The attestation that satisfied the rule (or the closest candidate when none did). */
  kind?: AttestationFacts['kind'];
  signer?: { issuer: string; identity: string };
  /** The SLSA builder id, or the certificate's build signer URI. */
  builder?: string;
  sourceRepository?: string;
  sourceCommit?: string;
  /** Index into `input.attestations` of the attestation that satisfied the rule. */
  attestationIndex?: number;
  /** Which policy entry matched (e.g. `builders[0]`). */
  matchedRule?: string;
  continuity: ContinuityReport;
  warnings: string[];
}

export interface LoadPolicyOptions {
  /** `path`: read the file; `text`: parse the argument; default `auto` (text when it contains a newline or `=`). */
  as?: 'auto' | 'path' | 'text';
  /** Name used in error messages for text input. */
  source?: string;
}
