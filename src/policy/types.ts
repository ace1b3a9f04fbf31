import type { ErrorCode } from '../errors.ts';
import type { ProjectStatus } from '../formats/project-status.ts';
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

/** Runner environments Fulcio certifies (extension 1.3.6.1.4.1.57264.1.11). */
export type RunnerEnvironment = 'github-hosted' | 'self-hosted';

/**
 * Conditions any `[[builders]]` or `[[publishers]]` entry may add on the signing certificate and
 * the statement: all that are set must hold for the entry to match.
 */
export interface CertificateConditions {
  /** The certificate's runner environment must be this (`github-hosted` refuses self-hosted runners). */
  runner?: RunnerEnvironment;
  /** Glob on the certificate's Source Repository Ref (e.g. `refs/tags/v*`). */
  sourceRef?: string;
  /** The statement's predicate type, exactly. */
  predicateType?: string;
  /** The certificate's Build Signer Digest (the builder workflow's commit), exactly. */
  signerDigest?: string;
}

/** A trusted build-provenance signer: exact OIDC issuer, glob on the certificate's identity (SAN). */
export interface BuilderRule extends CertificateConditions {
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
export interface PublisherRule extends CertificateConditions {
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
  /** PEP 792 statuses that fail the project's files. */
  failOnStatus?: ProjectStatus[];
  line?: number;
}

export interface Policy {
  version: 1;
  defaults: { require: RequiredKind; identityContinuity: ContinuityMode; failOnStatus: ProjectStatus[] };
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
  /** The project's PEP 792 status as its index reports it; undefined when not known. */
  projectStatus?: { status: ProjectStatus; reason: string | null };
}

/** One policy entry tried against one attestation, for `cairn verify --explain`. */
export interface RuleCheck {
  /** `builders[0]`, `publishers[1]`. */
  rule: string;
  line?: number;
  /** Index into `input.attestations`. */
  attestationIndex: number;
  matched: boolean;
  /** Why it matched, or the first condition that did not hold. */
  reason: string;
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
  /** Every entry tried against every attestation of the required kind, in order. */
  ruleChecks: RuleCheck[];
  /** The PEP 792 status the decision saw, when the index reported one. */
  projectStatus?: { status: ProjectStatus; reason: string | null };
  continuity: ContinuityReport;
  warnings: string[];
}

export interface LoadPolicyOptions {
  /** `path`: read the file; `text`: parse the argument; default `auto` (text when it contains a newline or `=`). */
  as?: 'auto' | 'path' | 'text';
  /** Name used in error messages for text input. */
  source?: string;
}
