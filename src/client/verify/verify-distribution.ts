import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CairnError, exitCodeFor, isCairnError, type ErrorCode } from '../../errors.ts';
import { isSha256Hex } from '../../formats/digests.ts';
import { parseDistributionFilename } from '../../formats/dist-filename.ts';
import { compareVersions, normalizeVersion } from '../../formats/pep440.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import type { AttestationFacts } from '../../formats/provenance-object.ts';
import type { AttestationIdentity } from '../../formats/pylock.ts';
import { decideDistribution } from '../../policy/decide-distribution.ts';
import { effectiveRule, signerIdentityOf } from '../../policy/evaluate.ts';
import type { Policy, PolicyVerdict, SignerIdentity } from '../../policy/types.ts';
import type { TrustedRootJson } from '../../trust/trusted-roots.ts';
import { verifierFor, type AttestationVerifier } from '../../trust/verify-attestation.ts';
import { attestationsFromJson, attestationsOfProvenanceObject, parseJsonText } from './attestation-input.ts';
import { defaultCacheDir, VerifyCache } from './disk-cache.ts';
import { concurrencyLimit, downloadDistribution, fetchProjectPage, fetchProvenance, integrityUrl, type FetchLimits, type FetchOptions, type IndexProject } from './index-fetch.ts';

/**
 * `cairn verify` as a service: for each distribution file, establish its sha256 (hash the local
 * file, download it, or take the digest a lock file pins), gather its attestations (local files
 * or the index's PEP 740 provenance object), verify each offline against the trusted roots, then
 * let the consumer's policy decide. Verification proves an attestation is authentic; only the
 * policy says whether its signer is trusted.
 */

export interface DistributionRequest {
  filename: string;
  /** Default: parsed from the filename. */
  project?: string;
  version?: string;
  /** Where the request came from (`pylock.toml packages[3]`, `requirements.txt:4`, a path), for messages. */
  origin?: string;
  /** A local distribution file: its bytes are hashed. */
  path?: string;
  /** Where to download the file when its bytes are needed. */
  url?: string;
  /** The digest the file must have (pinned by a lock file or `--hash`, or listed by the index). */
  sha256?: string | null;
  /** Fetch the bytes even when `sha256` is known (to re-check what the index serves). */
  download?: boolean;
  /** Attestations given directly: PEP 740 attestations, Sigstore bundles, or provenance objects. */
  attestations?: unknown[];
  /** Files holding attestations, bundles or provenance objects (`--attestation FILE`). */
  attestationFiles?: string[];
  /** The PEP 740 provenance URL; null when the index says the file has none. */
  provenanceUrl?: string | null;
  /** The index the file comes from (for the integrity API and the project's earlier releases). */
  index?: string;
  /** PEP 751 `attestation-identities` the file's provenance must match. */
  lockIdentities?: AttestationIdentity[] | null;
  /** A problem found while resolving the target; reported as the file's result. */
  error?: CairnError;
}

export interface AttestationReport {
  /** Where it came from: a URL or a file, with its position. */
  source: string;
  verified: boolean;
  /** Set when `verified` is false. */
  code?: ErrorCode;
  error?: string;
  kind?: AttestationFacts['kind'];
  issuer?: string;
  identity?: string;
  builder?: string | null;
  sourceRepository?: string | null;
  sourceCommit?: string | null;
  logIndex?: string;
  integratedTime?: string;
  facts?: AttestationFacts;
  /** SHA-256 of the attestation's JSON as read (a VSA names its input attestations by digest). */
  sha256?: string;
}

export type ResultStatus = 'pass' | 'fail' | 'error';

export interface DistributionResult {
  filename: string;
  project: string;
  version: string;
  origin: string;
  sha256: string | null;
  status: ResultStatus;
  /** Set unless `status` is `pass`. */
  code?: ErrorCode;
  reason: string;
  attestations: AttestationReport[];
  verdict: PolicyVerdict | null;
  warnings: string[];
  /** The PEP 751 identities this file's accepted provenance establishes (for `--lock-identities`). */
  identities: AttestationIdentity[];
  /** Where the file was downloaded from, when it was. */
  url?: string;
}

export interface VerifyOptions {
  policy: Policy;
  /** Roots besides the public-good one (parsed trusted_root.json documents). */
  trustedRoots?: TrustedRootJson[];
  /** Trust the shipped Sigstore public-good root (default true). */
  publicGood?: boolean;
  /** A verifier to reuse (its roots replace `trustedRoots`/`publicGood`). */
  verifier?: AttestationVerifier;
  cacheDir?: string;
  offline?: boolean;
  /** How long cached index pages and provenance stay fresh online (default 10 minutes). */
  cacheTtlMs?: number;
  /** Concurrent HTTP requests (default 8). */
  concurrency?: number;
  /** Earlier releases compared for identity continuity (default 1; 0 turns it off). */
  history?: number;
  /** Called after each file's download and verification. */
  onProgress?: (done: number, total: number, filename: string) => void;
  /** Deadlines and size caps of page and provenance reads (defaults: DEFAULT_FETCH_LIMITS). */
  fetchLimits?: FetchLimits;
}

interface Gathered {
  request: DistributionRequest;
  project: string;
  version: string;
  origin: string;
  sha256: string | null;
  reports: AttestationReport[];
  verified: AttestationFacts[];
  failure: CairnError | null;
}

function reportOf(source: string, facts: AttestationFacts): AttestationReport {
  return {
    source,
    verified: true,
    kind: facts.kind,
    issuer: facts.issuer,
    identity: facts.identity,
    // What the certificate says first: the statement's builder.id is the signer's own claim.
    builder: facts.buildSignerUri,
    sourceRepository: facts.sourceRepositoryUri ?? facts.statementRepository,
    sourceCommit: facts.sourceRepositoryDigest ?? facts.statementCommit,
    logIndex: facts.logIndex,
    integratedTime: facts.integratedTime,
    facts,
  };
}

function asCairnError(error: unknown): CairnError {
  if (isCairnError(error)) return error;
  return new CairnError('internal.error', (error as Error)?.message ?? String(error));
}

function statusOf(code: ErrorCode): ResultStatus {
  return exitCodeFor(code) === 1 ? 'fail' : 'error';
}

export class VerifySession {
  readonly verifier: AttestationVerifier;
  readonly fetch: FetchOptions;
  private readonly pages = new Map<string, Promise<IndexProject>>();
  private readonly histories = new Map<string, Promise<{ identities?: SignerIdentity[]; warning?: string }>>();

  constructor(readonly options: VerifyOptions & { trustedRoots: TrustedRootJson[] }) {
    this.verifier = options.verifier ?? verifierFor({ publicGood: options.publicGood, extra: options.trustedRoots });
    this.fetch = {
      cache: new VerifyCache(options.cacheDir ?? defaultCacheDir()),
      offline: options.offline ?? false,
      ttlMs: options.cacheTtlMs ?? 10 * 60_000,
      limit: concurrencyLimit(options.concurrency ?? 8),
      ...options.fetchLimits,
    };
  }

  projectPage(index: string, project: string): Promise<IndexProject> {
    const key = `${index}\u0000${normalizeProjectName(project)}`;
    let page = this.pages.get(key);
    if (!page) {
      page = fetchProjectPage(index, project, this.fetch);
      this.pages.set(key, page);
    }
    return page;
  }

  private verifyAll(attestations: { source: string; json: unknown }[], filename: string, sha256: string): { reports: AttestationReport[]; verified: AttestationFacts[] } {
    const reports: AttestationReport[] = [];
    const verified: AttestationFacts[] = [];
    for (const { source, json } of attestations) {
      try {
        const { facts } = this.verifier.verify(json, { filename, sha256 });
        reports.push({ ...reportOf(source, facts), sha256: createHash('sha256').update(JSON.stringify(json)).digest('hex') });
        verified.push(facts);
      } catch (error) {
        const e = asCairnError(error);
        reports.push({ source, verified: false, code: e.code, error: e.message });
      }
    }
    return { reports, verified };
  }

  private async attestationsOf(request: DistributionRequest, project: string, version: string): Promise<{ source: string; json: unknown }[]> {
    const out: { source: string; json: unknown }[] = [];
    (request.attestations ?? []).forEach((json, i) => {
      for (const [j, a] of attestationsFromJson(json, `attestation ${i + 1}`).entries()) out.push({ source: `attestation ${i + 1}#${j}`, json: a });
    });
    for (const file of request.attestationFiles ?? []) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new CairnError('usage.invalid_argument', `cannot read --attestation ${file}: ${(error as Error).message}`);
      }
      const list = attestationsFromJson(parseJsonText(text, file, 'attestation.malformed'), file);
      list.forEach((json, j) => out.push({ source: list.length > 1 ? `${file}#${j}` : file, json }));
    }
    if (request.attestations || request.attestationFiles) return out;
    let url = request.provenanceUrl;
    if (url === undefined && request.index) url = integrityUrl(request.index, project, version, request.filename);
    if (!url) return out;
    const text = await fetchProvenance(url, this.fetch);
    if (text === null) return out;
    const list = attestationsOfProvenanceObject(parseJsonText(text, url, 'provenance.malformed'), url);
    list.forEach((json, j) => out.push({ source: `${url}#${j}`, json }));
    return out;
  }

  private async digestOf(request: DistributionRequest): Promise<string> {
    const pinned = request.sha256 ? request.sha256.toLowerCase() : null;
    if (pinned !== null && !isSha256Hex(pinned)) throw new CairnError('usage.invalid_argument', `${request.filename}: ${pinned} is not a sha256 digest`);
    if (request.path) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(request.path);
      } catch (error) {
        throw new CairnError('usage.invalid_argument', `cannot read ${request.path}: ${(error as Error).message}`);
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (pinned && pinned !== sha256) throw new CairnError('verify.digest_mismatch', `${request.path} has sha256 ${sha256}, expected ${pinned}`);
      return sha256;
    }
    if (pinned && !request.download) return pinned;
    if (!request.url) throw new CairnError('usage.invalid_argument', `${request.filename}: no file, no URL and no digest to verify against`);
    return (await downloadDistribution(request.url, pinned, this.fetch)).sha256;
  }

  /** Cryptographic part for one file: digest, attestations, offline verification of each. */
  async gather(request: DistributionRequest): Promise<Gathered> {
    let project = request.project ?? '';
    let version = request.version ?? '';
    const origin = request.origin ?? request.path ?? request.url ?? request.filename;
    const base: Gathered = { request, project, version, origin, sha256: null, reports: [], verified: [], failure: null };
    try {
      if (request.error) throw request.error;
      if (!project || !version) {
        const parsed = parseDistributionFilename(request.filename);
        project ||= parsed.project;
        version ||= parsed.version;
      }
      base.project = normalizeProjectName(project);
      base.version = normalizeVersion(version);
      base.sha256 = await this.digestOf(request);
      const attestations = await this.attestationsOf(request, base.project, base.version);
      const { reports, verified } = this.verifyAll(attestations, request.filename, base.sha256);
      base.reports = reports;
      base.verified = verified;
    } catch (error) {
      base.failure = asCairnError(error);
    }
    return base;
  }

  /**
   * Signer identities on the project's latest earlier releases (PEP 740 provenance verified like
   * any other). Undefined when there is no index or the history cannot be read.
   */
  async previousIdentities(index: string | undefined, project: string, version: string, warnings: string[]): Promise<SignerIdentity[] | undefined> {
    const releases = this.options.history ?? 1;
    if (!index || releases <= 0) return undefined;
    const key = `${index}\u0000${project}\u0000${version}`;
    let history = this.histories.get(key);
    if (!history) {
      history = this.readHistory(index, project, version, releases).then(
        (identities) => ({ identities }),
        (error: unknown) => ({ warning: `identity continuity not checked: ${asCairnError(error).message}` }),
      );
      this.histories.set(key, history);
    }
    const { identities, warning } = await history;
    if (warning) warnings.push(warning);
    return identities;
  }

  private async readHistory(index: string, project: string, version: string, releases: number): Promise<SignerIdentity[]> {
    const page = await this.projectPage(index, project);
    const byVersion = new Map<string, typeof page.files>();
    for (const file of page.files) {
      let fileVersion: string;
      try {
        fileVersion = normalizeVersion(parseDistributionFilename(file.filename).version);
      } catch {
        continue;
      }
      if (compareVersions(fileVersion, version) >= 0) continue;
      byVersion.set(fileVersion, [...(byVersion.get(fileVersion) ?? []), file]);
    }
    const earlier = [...byVersion.keys()].sort((a, b) => compareVersions(b, a)).slice(0, releases);
    const identities: SignerIdentity[] = [];
    for (const v of earlier) {
      // A few files per release are enough to know who signed it.
      for (const file of byVersion.get(v)!.filter((f) => f.sha256 !== null).slice(0, 3)) {
        const url = file.provenanceUrl === undefined ? integrityUrl(index, project, v, file.filename) : file.provenanceUrl;
        if (!url) continue;
        const text = await fetchProvenance(url, this.fetch);
        if (text === null) continue;
        const list = attestationsOfProvenanceObject(parseJsonText(text, url, 'provenance.malformed'), url);
        const { verified } = this.verifyAll(list.map((json, j) => ({ source: `${url}#${j}`, json })), file.filename, file.sha256!);
        identities.push(...verified.map(signerIdentityOf));
      }
    }
    return identities;
  }

  /** The project's PEP 792 status from its index page (already fetched for name==version targets); undefined when unknown. */
  private async projectStatus(index: string, project: string): Promise<IndexProject['status']> {
    try {
      return (await this.projectPage(index, project)).status;
    } catch {
      return undefined;
    }
  }

  /** Reads the project history the policy needs, then lets src/policy decide (with the other files of the release, for inconsistent signers). */
  async decide(item: Gathered, siblings: Gathered[]): Promise<DistributionResult> {
    const { request } = item;
    const result: DistributionResult = {
      filename: request.filename,
      project: item.project,
      version: item.version,
      origin: item.origin,
      sha256: item.sha256,
      status: 'fail',
      reason: '',
      attestations: item.reports,
      verdict: null,
      warnings: [],
      identities: [],
      ...(request.url ? { url: request.url } : {}),
    };
    if (item.failure) {
      result.status = statusOf(item.failure.code);
      result.code = item.failure.code;
      result.reason = item.failure.message;
      return result;
    }
    const policy = this.options.policy;
    const projectStatus = request.index ? await this.projectStatus(request.index, item.project) : undefined;
    const continuityOff = effectiveRule(policy, item.project).identityContinuity === 'off';
    const previousIdentities = continuityOff ? undefined : await this.previousIdentities(request.index, item.project, item.version, result.warnings);
    const decision = decideDistribution(policy, {
      project: item.project,
      version: item.version,
      filename: request.filename,
      origin: item.origin,
      attestations: item.verified,
      ...(previousIdentities !== undefined ? { previousIdentities } : {}),
      siblingIdentities: siblings.filter((s) => s !== item && !s.failure).map((s) => ({ filename: s.request.filename, identities: s.verified.map(signerIdentityOf) })),
      unverified: item.reports.filter((r) => !r.verified).map((r) => ({ source: r.source, code: r.code!, error: r.error! })),
      lockIdentities: request.lockIdentities ?? [],
      ...(projectStatus ? { projectStatus } : {}),
    });
    result.verdict = decision.verdict;
    result.warnings.push(...decision.warnings);
    result.status = decision.pass ? 'pass' : 'fail';
    if (decision.code !== undefined) result.code = decision.code;
    result.reason = decision.reason;
    result.identities = decision.identities;
    return result;
  }

  /** Verifies every request; files of the same release are decided together. Results keep the request order. */
  async verifyRequests(requests: DistributionRequest[]): Promise<DistributionResult[]> {
    let done = 0;
    const total = requests.length;
    const gathered = await Promise.all(
      requests.map(async (r) => {
        const g = await this.gather(r);
        this.options.onProgress?.(++done, total, g.request.filename);
        return g;
      }),
    );
    const groups = new Map<string, Gathered[]>();
    for (const g of gathered) {
      const key = `${g.project}\u0000${g.version}`;
      groups.set(key, [...(groups.get(key) ?? []), g]);
    }
    return Promise.all(
      gathered.map((g) => this.decide(g, groups.get(`${g.project}\u0000${g.version}`) ?? [g])),
    );
  }
}

export function createVerifySession(options: VerifyOptions): VerifySession {
  return new VerifySession({ ...options, trustedRoots: options.trustedRoots ?? [] });
}
