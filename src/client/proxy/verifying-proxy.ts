import type { ProjectStatus } from '../../formats/project-status.ts';
import { appendFileSync, createReadStream, mkdirSync, statSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CairnError, isCairnError, type ErrorCode } from '../../errors.ts';
import { isSha256Hex } from '../../formats/digests.ts';
import { parseDistributionFilename } from '../../formats/dist-filename.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import type { Policy } from '../../policy/types.ts';
import type { TrustedRootJson } from '../../trust/trusted-roots.ts';
import { verifierFor, type AttestationVerifier } from '../../trust/verify-attestation.ts';
import { defaultCacheDir, VerifyCache } from '../verify/disk-cache.ts';
import { concurrencyLimit, DEFAULT_FETCH_LIMITS, fetchProvenance, indexBase, integrityUrl, type FetchOptions } from '../verify/index-fetch.ts';
import { createVerifySession, type DistributionRequest, type DistributionResult } from '../verify/verify-distribution.ts';
import { CacheSink, digestCheckedChunks } from './checked-stream.ts';
import { fetchUpstreamProject, type UpstreamFile } from './upstream-page.ts';

/**
 * `cairn proxy` as a service: a view of an upstream index (any PEP 691 index with the PEP 740
 * integrity API: cairn, or PyPI) in which a file is listed only when its provenance verifies
 * offline against the trusted roots and passes the consumer's policy — the same checks as
 * `cairn verify`, through the same session code. Downloads pass through and are re-checked
 * against the digest the provenance was verified for; a file whose bytes differ is never
 * delivered complete. Every hidden file is recorded with the policy code and reason, logged
 * once, and shown on the proxy's project page.
 */

export interface ProxyOptions {
  /** Base URL of the upstream index (`https://pypi.org`, `…/simple` is accepted too). */
  upstream: string;
  policy: Policy;
  /** Roots besides the public-good one (`--trusted-root`, `--dev-trust`). */
  trustedRoots?: TrustedRootJson[];
  /** Trust the shipped Sigstore public-good root (default true). */
  publicGood?: boolean;
  cacheDir?: string;
  /** How long a project's verdicts, and the cached upstream page and provenance, stay fresh (default 5 minutes). */
  ttlMs?: number;
  /** How long a view stays when a file could not be checked (upstream trouble), so it is retried soon (default 30 s). */
  errorTtlMs?: number;
  /** Concurrent upstream requests per project (default 8). */
  concurrency?: number;
  /** Earlier releases compared for identity continuity (default 1; 0 turns it off). */
  history?: number;
  onEvent?: (event: ProxyEvent) => void;
  now?: () => Date;
  /** What the proxy reads from its upstream at most, and how long it waits (docs/decisions.md). */
  limits?: Partial<UpstreamLimits>;
}

export interface UpstreamLimits {
  /** Deadline of a page or provenance request, body included. */
  timeoutMs: number;
  /** A download whose bytes stop arriving this long is cut. */
  downloadIdleMs: number;
  /** Largest project page, counted after decompression. */
  maxPageBytes: number;
  /** Largest provenance object, counted after decompression. */
  maxProvenanceBytes: number;
  /** Files one project page may list. */
  maxFilesPerPage: number;
  /** Largest download when the page does not give the file's size. */
  maxFileBytes: number;
}

export const DEFAULT_UPSTREAM_LIMITS: UpstreamLimits = {
  timeoutMs: 30_000,
  downloadIdleMs: 60_000,
  maxPageBytes: DEFAULT_FETCH_LIMITS.maxPageBytes,
  maxProvenanceBytes: DEFAULT_FETCH_LIMITS.maxProvenanceBytes,
  maxFilesPerPage: 20_000,
  maxFileBytes: 4 * 1024 * 1024 * 1024,
};

/** What went wrong upstream, as the proxy's client is told: 502, naming the URL that failed. */
function upstreamFault(error: unknown, fallbackUrl: string): CairnError {
  if (isCairnError(error) && error.code === 'proxy.upstream_error') return error;
  const url = isCairnError(error) && typeof error.details?.url === 'string' ? error.details.url : fallbackUrl;
  const cause = isCairnError(error) ? error.message : error instanceof Error ? error.message : String(error);
  return new CairnError('proxy.upstream_error', `the upstream index failed at ${url}: ${cause}`, { url });
}

/** Codes that mean the upstream (not the policy, not the request) failed. */
const UPSTREAM_FAILURES: ReadonlySet<ErrorCode> = new Set(['network.error', 'server.error', 'internal.error']);

export type ProxyFileStatus = 'listed' | 'hidden';

export interface ProxyFileEntry {
  filename: string;
  version: string | null;
  sha256: string | null;
  upstreamUrl: string;
  provenanceUrl: string | null | undefined;
  requiresPython: string | null;
  yanked: false | string;
  size: number | null;
  uploadTime: string | null;
  status: ProxyFileStatus;
  /** Why the file is hidden (null when listed). */
  code: ErrorCode | null;
  /** The verdict's sentence, listed or hidden. */
  reason: string;
  /** The full verification result (attestations, verdict, warnings); null when the file was never checked. */
  result: DistributionResult | null;
}

export interface ProxyProjectView {
  /** Display name from the upstream. */
  name: string;
  /** Normalised (PEP 503) name: the proxy's URLs use it. */
  project: string;
  upstreamPageUrl: string;
  checkedAt: string;
  files: ProxyFileEntry[];
  /** PEP 792 status from the upstream page, re-served as is. */
  status?: { status: ProjectStatus; reason: string | null };
}

export interface HiddenFileRecord {
  project: string;
  filename: string;
  version: string | null;
  sha256: string | null;
  /** `policy`: not listed (verification or policy); `download`: listed, but the upstream bytes did not match. */
  cause: 'policy' | 'download';
  code: ErrorCode;
  reason: string;
  firstSeen: string;
  lastSeen: string;
}

export type ProxyEvent =
  | { type: 'hidden'; record: HiddenFileRecord }
  /** A project hid more files at once than are logged one by one (a large upstream project without provenance). */
  | { type: 'hidden_more'; project: string; count: number }
  | { type: 'download_rejected'; record: HiddenFileRecord }
  | { type: 'served'; project: string; filename: string; sha256: string; from: 'cache' | 'upstream' }
  | { type: 'upstream_error'; project: string; code: ErrorCode; message: string };

export interface ProxyDownload {
  filename: string;
  sha256: string;
  /** Byte count when known before streaming (cache, or the upstream's Content-Length). */
  size: number | null;
  from: 'cache' | 'upstream';
  /**
   * The file's bytes; the last chunk comes only after the digest matched, otherwise the
   * iteration throws `verify.digest_mismatch` (the caller must then cut the connection).
   */
  chunks: AsyncGenerator<Buffer, void, undefined>;
}

/** Newly hidden files of one project logged one per line; the rest in one summary line. */
const HIDDEN_LOG_LIMIT = 20;
/** Records kept in memory; the oldest go first (hidden.jsonl keeps them all). */
const HIDDEN_RECORD_LIMIT = 10_000;

function hiddenEntry(file: UpstreamFile, version: string | null, code: ErrorCode, reason: string): ProxyFileEntry {
  return {
    filename: file.filename,
    version,
    sha256: file.sha256,
    upstreamUrl: file.url,
    provenanceUrl: file.provenanceUrl,
    requiresPython: file.requiresPython,
    yanked: file.yankedReason,
    size: file.size,
    uploadTime: file.uploadTime,
    status: 'hidden',
    code,
    reason,
    result: null,
  };
}

export class VerifyingProxy {
  readonly upstream: string;
  readonly policy: Policy;
  readonly cache: VerifyCache;
  private readonly verifier: AttestationVerifier;
  private readonly fetch: FetchOptions;
  private readonly views = new Map<string, { expires: number; view: Promise<ProxyProjectView> }>();
  private readonly hidden = new Map<string, HiddenFileRecord>();
  private readonly recordPath: string;
  private readonly now: () => Date;
  private readonly limits: UpstreamLimits;

  constructor(private readonly options: ProxyOptions) {
    this.limits = { ...DEFAULT_UPSTREAM_LIMITS, ...options.limits };
    this.upstream = indexBase(options.upstream);
    this.policy = options.policy;
    this.cache = new VerifyCache(options.cacheDir ?? defaultCacheDir());
    // One verifier for the proxy's lifetime: it caches imported keys and verified chains.
    this.verifier = verifierFor({ publicGood: options.publicGood, extra: options.trustedRoots ?? [] });
    this.fetch = {
      cache: this.cache,
      offline: false,
      ttlMs: this.ttlMs,
      limit: concurrencyLimit(options.concurrency ?? 8),
      timeoutMs: this.limits.timeoutMs,
      maxPageBytes: this.limits.maxPageBytes,
      maxProvenanceBytes: this.limits.maxProvenanceBytes,
      // Each file costs a verification and memory for its verdict: a page listing an absurd
      // number of them is an upstream fault, refused before any file is looked at.
      maxFilesPerPage: this.limits.maxFilesPerPage,
    };
    this.recordPath = join(this.cache.dir, 'proxy', 'hidden.jsonl');
    this.now = options.now ?? (() => new Date());
  }

  private get ttlMs(): number {
    return this.options.ttlMs ?? 5 * 60_000;
  }

  /** Projects whose pages were asked for since the proxy started, by normalised name. */
  projectsSeen(): { project: string; name: string }[] {
    return [...this.views.keys()].sort().map((project) => ({ project, name: project }));
  }

  /** Every file hidden since the proxy started (also appended to `<cache-dir>/proxy/hidden.jsonl`). */
  hiddenFiles(): HiddenFileRecord[] {
    return [...this.hidden.values()].sort((a, b) => a.firstSeen.localeCompare(b.firstSeen));
  }

  /** The checked view of one project, from memory while fresh. Throws `project.not_found` when the upstream has none. */
  async projectView(name: string): Promise<ProxyProjectView> {
    const project = normalizeProjectName(name);
    const cached = this.views.get(project);
    if (cached && cached.expires > Date.now()) return cached.view;
    const view = this.buildView(project);
    const slot = { expires: Number.POSITIVE_INFINITY, view };
    this.views.set(project, slot);
    try {
      const built = await view;
      const unsure = built.files.some((f) => f.result?.status === 'error');
      slot.expires = Date.now() + (unsure ? (this.options.errorTtlMs ?? 30_000) : this.ttlMs);
      return built;
    } catch (error) {
      // A failed upstream fetch is not remembered: the next request tries again.
      if (this.views.get(project) === slot) this.views.delete(project);
      const known = isCairnError(error) ? error : null;
      if (known?.code === 'verify.not_found') throw new CairnError('project.not_found', `the upstream index ${this.upstream} has no project ${project}`);
      const e = known && !UPSTREAM_FAILURES.has(known.code) ? known : upstreamFault(error, `${this.upstream}/simple/${project}/`);
      this.emit({ type: 'upstream_error', project, code: e.code, message: e.message });
      throw e;
    }
  }

  private async buildView(project: string): Promise<ProxyProjectView> {
    const page = await fetchUpstreamProject(this.upstream, project, this.fetch);
    const entries: ProxyFileEntry[] = [];
    const requests: { entry: ProxyFileEntry; request: DistributionRequest }[] = [];
    for (const file of page.files) {
      let version: string | null = null;
      try {
        const parsed = parseDistributionFilename(file.filename);
        version = normalizeVersion(parsed.version);
        if (normalizeProjectName(parsed.project) !== project) {
          entries.push(hiddenEntry(file, version, 'filename.invalid', `${file.filename} names project ${parsed.project}, but the upstream lists it under ${project}`));
          continue;
        }
      } catch (error) {
        const e = isCairnError(error) ? error : new CairnError('filename.invalid', String(error));
        entries.push(hiddenEntry(file, null, e.code, `${file.filename}: ${e.message}`));
        continue;
      }
      if (file.sha256 === null || !isSha256Hex(file.sha256)) {
        // Provenance binds a digest; without one listed, nothing ties the bytes pip gets to what was verified.
        entries.push(hiddenEntry(file, version, 'proxy.no_digest', `${file.filename}: the upstream lists no sha256 for it, so its download could not be checked against its provenance`));
        continue;
      }
      const entry = hiddenEntry(file, version, 'internal.error', 'not checked');
      entries.push(entry);
      requests.push({
        entry,
        request: {
          filename: file.filename,
          project,
          version,
          origin: file.url,
          url: file.url,
          sha256: file.sha256,
          index: this.upstream,
          ...(file.provenanceUrl !== undefined ? { provenanceUrl: file.provenanceUrl } : {}),
        },
      });
    }
    const session = createVerifySession({
      policy: this.policy,
      verifier: this.verifier,
      cacheDir: this.cache.dir,
      cacheTtlMs: this.ttlMs,
      concurrency: this.options.concurrency ?? 8,
      history: this.options.history ?? 1,
      fetchLimits: { timeoutMs: this.limits.timeoutMs, maxPageBytes: this.limits.maxPageBytes, maxProvenanceBytes: this.limits.maxProvenanceBytes, maxFilesPerPage: this.limits.maxFilesPerPage },
    });
    const results = await session.verifyRequests(requests.map((r) => r.request));
    results.forEach((result, i) => {
      const { entry } = requests[i]!;
      entry.result = result;
      entry.reason = result.reason;
      if (result.status === 'pass') {
        entry.status = 'listed';
        entry.code = null;
      } else {
        entry.code = result.code ?? 'internal.error';
      }
    });
    const view: ProxyProjectView = { name: page.name, project, upstreamPageUrl: page.pageUrl, checkedAt: this.now().toISOString(), files: entries, ...(page.status ? { status: page.status } : {}) };
    let newlyHidden = 0;
    for (const entry of entries) {
      if (entry.status !== 'hidden') continue;
      if (this.record(project, { ...entry, code: entry.code ?? 'internal.error' }, 'policy', newlyHidden < HIDDEN_LOG_LIMIT)) newlyHidden++;
    }
    if (newlyHidden > HIDDEN_LOG_LIMIT) this.emit({ type: 'hidden_more', project, count: newlyHidden - HIDDEN_LOG_LIMIT });
    return view;
  }

  /** Remembers a hidden file; true when it is new (then it is logged, if `log`). */
  private record(
    project: string,
    entry: Pick<ProxyFileEntry, 'filename' | 'version' | 'sha256'> & { code: ErrorCode; reason: string },
    cause: HiddenFileRecord['cause'],
    log = true,
  ): boolean {
    const key = `${entry.sha256 ?? entry.filename}\u0000${cause}\u0000${entry.code}`;
    const now = this.now().toISOString();
    const known = this.hidden.get(key);
    if (known) {
      known.lastSeen = now;
      known.reason = entry.reason;
      return false;
    }
    if (this.hidden.size >= HIDDEN_RECORD_LIMIT) this.hidden.delete(this.hidden.keys().next().value!);
    const record: HiddenFileRecord = { project, filename: entry.filename, version: entry.version, sha256: entry.sha256, cause, code: entry.code, reason: entry.reason, firstSeen: now, lastSeen: now };
    this.hidden.set(key, record);
    try {
      mkdirSync(join(this.recordPath, '..'), { recursive: true });
      appendFileSync(this.recordPath, `${JSON.stringify(record)}\n`);
    } catch {
      // The in-memory record and the log line still say it; the file is a convenience.
    }
    if (log) this.emit({ type: cause === 'policy' ? 'hidden' : 'download_rejected', record });
    return true;
  }

  private emit(event: ProxyEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A logging sink must not break serving.
    }
  }

  private async listedEntry(project: string, sha256: string, filename: string): Promise<ProxyFileEntry> {
    const view = await this.projectView(project);
    const entry = view.files.find((f) => f.filename === filename && f.sha256 === sha256);
    if (!entry) throw new CairnError('file.not_found', `${project} on ${this.upstream} has no file ${filename} with sha256 ${sha256}`);
    if (entry.status !== 'listed') {
      throw new CairnError('proxy.file_hidden', `${filename} is hidden by the proxy: [${entry.code}] ${entry.reason}`, { code: entry.code, reason: entry.reason });
    }
    return entry;
  }

  /**
   * Opens a listed file for download: from the content-addressed cache, or streamed from the
   * upstream while hashing and caching. Either way the bytes are checked against the digest the
   * provenance was verified for.
   */
  async openDownload(project: string, sha256: string, filename: string): Promise<ProxyDownload> {
    const normalized = normalizeProjectName(project);
    const entry = await this.listedEntry(normalized, sha256, filename);
    const cachePath = this.cache.filePath(sha256);
    let cachedSize: number | null = null;
    try {
      const stat = statSync(cachePath);
      if (stat.isFile()) cachedSize = stat.size;
    } catch {
      cachedSize = null;
    }
    if (cachedSize !== null) {
      const source = createReadStream(cachePath, { highWaterMark: 256 * 1024 });
      const chunks = this.reported(digestCheckedChunks(source, sha256, `cached ${filename}`, null), normalized, entry, 'cache', cachePath);
      return { filename, sha256, size: cachedSize, from: 'cache', chunks };
    }
    const controller = new AbortController();
    // Until the headers arrive, the page deadline; then the body may take as long as it keeps moving.
    const headersDeadline = setTimeout(() => controller.abort(new Error(`no answer within ${this.limits.timeoutMs} ms`)), this.limits.timeoutMs);
    let response: Response;
    try {
      // `identity`: a transfer encoding decoded on the way would change the bytes that are hashed.
      response = await fetch(entry.upstreamUrl, { headers: { 'Accept-Encoding': 'identity', 'User-Agent': 'cairn-proxy' }, redirect: 'follow', signal: controller.signal });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw upstreamFault(new Error(`cannot reach it: ${cause ?? (error as Error).message}`), entry.upstreamUrl);
    } finally {
      clearTimeout(headersDeadline);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw upstreamFault(new Error(`it answered HTTP ${response.status}`), entry.upstreamUrl);
    }
    const declared = Number(response.headers.get('content-length'));
    const size = response.headers.has('content-length') && Number.isSafeInteger(declared) && declared >= 0 ? declared : null;
    const body = boundedDownload(response.body as unknown as AsyncIterable<Uint8Array>, entry.upstreamUrl, entry.size ?? this.limits.maxFileBytes, this.limits.downloadIdleMs, controller);
    const checked = digestCheckedChunks(body, sha256, `${filename} from ${entry.upstreamUrl}`, new CacheSink(cachePath));
    const chunks = this.reported(checked, normalized, entry, 'upstream', cachePath, () => controller.abort());
    return { filename, sha256, size, from: 'upstream', chunks };
  }

  private async *reported(
    inner: AsyncGenerator<Buffer, void, undefined>,
    project: string,
    entry: ProxyFileEntry,
    from: 'cache' | 'upstream',
    cachePath: string,
    abort?: () => void,
  ): AsyncGenerator<Buffer, void, undefined> {
    let finished = false;
    try {
      yield* inner;
      finished = true;
    } catch (error) {
      if (isCairnError(error) && error.code === 'verify.digest_mismatch') {
        if (from === 'cache') {
          // Local damage: drop the entry so the next request fetches the file again.
          await unlink(cachePath).catch(() => undefined);
        } else {
          // The upstream serves other bytes than the ones the provenance covers: stop listing the file.
          entry.status = 'hidden';
          entry.code = 'verify.digest_mismatch';
          entry.reason = error.message;
        }
        this.record(project, { filename: entry.filename, version: entry.version, sha256: entry.sha256, code: error.code, reason: `${from === 'cache' ? 'cache' : 'upstream'}: ${error.message}` }, 'download');
      }
      throw error;
    } finally {
      if (!finished) abort?.();
    }
    this.emit({ type: 'served', project, filename: entry.filename, sha256: entry.sha256!, from });
  }

  /** The upstream's PEP 740 provenance object for a file of the project (from the cache while fresh), or null. */
  async provenanceText(project: string, filename: string): Promise<string | null> {
    const view = await this.projectView(project);
    const entry = view.files.find((f) => f.filename === filename);
    if (!entry) throw new CairnError('file.not_found', `${project} on ${this.upstream} has no file ${filename}`);
    const url = entry.provenanceUrl === undefined ? (entry.version ? integrityUrl(this.upstream, project, entry.version, filename) : null) : entry.provenanceUrl;
    if (!url) return null;
    try {
      return await fetchProvenance(url, this.fetch);
    } catch (error) {
      if (isCairnError(error) && !UPSTREAM_FAILURES.has(error.code)) throw error;
      throw upstreamFault(error, url);
    }
  }
}

/**
 * An upstream download's bytes, cut when they stop arriving for `idleMs` (a stalled upstream
 * would hold the client and a connection forever) or run past `maxBytes` (the size the page
 * gave, else the proxy's cap: an endless file must not fill the cache's disk).
 */
async function* boundedDownload(body: AsyncIterable<Uint8Array>, url: string, maxBytes: number, idleMs: number, controller: AbortController): AsyncGenerator<Uint8Array, void, undefined> {
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(new Error(`no bytes for ${idleMs} ms`)), idleMs);
  };
  let size = 0;
  try {
    arm();
    for await (const chunk of body) {
      size += chunk.byteLength;
      if (size > maxBytes) throw upstreamFault(new Error(`the download exceeds ${maxBytes} bytes`), url);
      arm();
      yield chunk;
    }
  } catch (error) {
    if (isCairnError(error)) throw error;
    const reason = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason.message : (error as Error).message;
    throw upstreamFault(new Error(`the download broke off after ${size} bytes: ${reason}`), url);
  } finally {
    clearTimeout(idle);
  }
}

/** One log line per event, with where to read more (the proxy's project page). */
export function formatProxyEvent(event: ProxyEvent, publicUrl: string): string {
  const page = (project: string) => `${publicUrl.replace(/\/+$/, '')}/project/${project}/`;
  switch (event.type) {
    case 'hidden': {
      const r = event.record;
      return `cairn proxy: hid ${r.filename} (${r.project}${r.version ? ` ${r.version}` : ''}) [${r.code}] ${r.reason} — see ${page(r.project)}`;
    }
    case 'download_rejected': {
      const r = event.record;
      return `cairn proxy: aborted download of ${r.filename} (${r.project}) [${r.code}] ${r.reason} — see ${page(r.project)}`;
    }
    case 'hidden_more':
      return `cairn proxy: hid ${event.count} more file(s) of ${event.project} — see ${page(event.project)}`;
    case 'served':
      return `cairn proxy: served ${event.filename} (${event.project}) from ${event.from}`;
    case 'upstream_error':
      return `cairn proxy: upstream error for ${event.project}: [${event.code}] ${event.message}`;
  }
}
