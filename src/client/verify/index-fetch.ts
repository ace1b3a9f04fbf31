import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CairnError } from '../../errors.ts';
import { INTEGRITY_MEDIA_TYPE } from '../../formats/provenance-object.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import { isProjectStatus, type ProjectStatus } from '../../formats/project-status.ts';
import { SIMPLE_JSON } from '../../formats/simple-api.ts';
import { indexBaseUrl } from '../index-client.ts';
import type { VerifyCache } from './disk-cache.ts';

/**
 * Reads what `cairn verify` needs from any index serving the PEP 691 JSON simple API and the
 * PEP 740 integrity API (cairn or PyPI): project pages, provenance objects, distributions.
 * Pages and provenance go through the disk cache; `offline` answers from the cache only.
 */

export interface IndexFile {
  filename: string;
  url: string;
  sha256: string | null;
  /** PEP 740 `provenance`: a URL, null (the index says there is none), or undefined (the index does not say). */
  provenanceUrl: string | null | undefined;
  yanked: boolean;
}

export interface IndexProject {
  name: string;
  pageUrl: string;
  files: IndexFile[];
  /** PEP 792 `project-status` (api-version 1.4); undefined when the index does not say. */
  status?: { status: ProjectStatus; reason: string | null };
}

export interface FetchOptions {
  cache: VerifyCache;
  offline: boolean;
  /** How long cached pages and provenance count as fresh when online. */
  ttlMs: number;
  /** Limits concurrent HTTP requests. */
  limit: <T>(task: () => Promise<T>) => Promise<T>;
  /** Deadline of a page or provenance request, body included (default 60 s). */
  timeoutMs?: number;
  /** Largest project page accepted, counted after decompression (default 32 MiB). */
  maxPageBytes?: number;
  /** Largest provenance object accepted, counted after decompression (default 4 MiB). */
  maxProvenanceBytes?: number;
  /** Files a project page may list; checked before any of them is read (default: no cap). */
  maxFilesPerPage?: number;
}

export type FetchLimits = Pick<FetchOptions, 'timeoutMs' | 'maxPageBytes' | 'maxProvenanceBytes' | 'maxFilesPerPage'>;

/**
 * What a hostile or broken index can make a reader hold (docs/decisions.md, "Hardening"). PyPI's
 * largest project pages are a few MiB of JSON; provenance objects a few KiB.
 */
export const DEFAULT_FETCH_LIMITS: Required<Omit<FetchLimits, 'maxFilesPerPage'>> = { timeoutMs: 60_000, maxPageBytes: 32 * 1024 * 1024, maxProvenanceBytes: 4 * 1024 * 1024 };

/**
 * `https://pypi.org/simple/`, `https://pypi.org/legacy/` and `https://pypi.org` name the same
 * index: cairn derives paths from the base.
 */
export function indexBase(index: string): string {
  return indexBaseUrl(index);
}

export function integrityUrl(index: string, project: string, version: string, filename: string): string {
  return `${indexBase(index)}/integrity/${encodeURIComponent(normalizeProjectName(project))}/${encodeURIComponent(version)}/${encodeURIComponent(filename)}/provenance`;
}

/** Runs at most `n` tasks at once. */
export function concurrencyLimit(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (active >= n) return;
    const start = queue.shift();
    if (start) {
      active++;
      start();
    }
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}

/** The reason behind a failed fetch: undici hides the socket's error in `cause`. */
function fetchFailure(error: unknown): string {
  const cause = (error as { cause?: { message?: string; code?: string } }).cause;
  return cause?.message ?? cause?.code ?? (error as Error).message ?? String(error);
}

async function httpGet(url: string, accept: string, options: FetchOptions): Promise<Response> {
  try {
    // The deadline covers the body as well: a server that sends headers and then stalls is cut.
    return await fetch(url, { headers: { Accept: accept, 'User-Agent': 'cairn-verify' }, signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_FETCH_LIMITS.timeoutMs), redirect: 'follow' });
  } catch (error) {
    throw new CairnError('network.error', `cannot reach ${url}: ${fetchFailure(error)}`, { url });
  }
}

function serverError(url: string, response: Response): CairnError {
  return new CairnError(response.status >= 500 ? 'server.error' : 'network.error', `${url} answered HTTP ${response.status} ${response.statusText}`, { url, status: response.status });
}

/**
 * Reads a response body up to `maxBytes`, counted as decoded (a gzip bomb is refused by what it
 * expands to, not by what it weighs on the wire); leaving the loop early cancels the download.
 */
async function readBoundedText(response: Response, url: string, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new CairnError('server.error', `${url} is larger than ${maxBytes} bytes (decompressed): refused`, { url, limit: maxBytes });
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof CairnError) throw error;
    throw new CairnError('network.error', `reading ${url} broke off after ${size} bytes: ${fetchFailure(error)}`, { url });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Fetches a text resource through the cache; null when the server says 404 (remembered as such). */
async function cachedText(area: 'pages' | 'provenance', url: string, accept: string, options: FetchOptions): Promise<string | null> {
  const cached = options.cache.getText(area, url);
  if (cached && (options.offline || cached.ageMs < options.ttlMs)) return cached.text === '\u0000404' ? null : cached.text;
  if (options.offline) {
    throw new CairnError('verify.offline_miss', `--offline: ${url} is not in the cache (run once online, or give the files and --attestation)`);
  }
  return options.limit(async () => {
    const response = await httpGet(url, accept, options);
    if (response.status === 404 || response.status === 410) {
      await response.body?.cancel();
      options.cache.putText(area, url, '\u0000404');
      return null;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw serverError(url, response);
    }
    const limit = area === 'pages' ? (options.maxPageBytes ?? DEFAULT_FETCH_LIMITS.maxPageBytes) : (options.maxProvenanceBytes ?? DEFAULT_FETCH_LIMITS.maxProvenanceBytes);
    const text = await readBoundedText(response, url, limit);
    options.cache.putText(area, url, text);
    return text;
  });
}

/**
 * JSON objects an honest page holds per file (the file, `hashes`, `core-metadata` and its
 * predecessor's key, with room to spare). Counting `{` is an upper bound of the objects.
 */
const OBJECTS_PER_FILE = 8;

/** Whether `text` has more than `limit` `{`: a scan costs milliseconds where parsing costs seconds. */
function moreObjectsThan(text: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > limit) return true;
  return false;
}

function parseProjectJson(text: string, pageUrl: string, maxFiles = Number.POSITIVE_INFINITY): IndexProject {
  // Parsing a page of hundreds of thousands of tiny objects blocks the event loop for seconds: a
  // page that cannot be within the file cap is refused before it is parsed.
  if (Number.isFinite(maxFiles) && moreObjectsThan(text, maxFiles * OBJECTS_PER_FILE + 64)) {
    throw new CairnError('server.error', `${pageUrl} holds more JSON objects than ${maxFiles} files would: more files than the cap of ${maxFiles}`, { url: pageUrl, limit: maxFiles });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CairnError('server.error', `${pageUrl} is not a PEP 691 JSON page (does the index speak the JSON simple API?)`, { url: pageUrl });
  }
  const b = body as { name?: unknown; files?: unknown; 'project-status'?: { status?: unknown; reason?: unknown } };
  if (!Array.isArray(b.files)) throw new CairnError('server.error', `${pageUrl}: the JSON page has no files list`, { url: pageUrl });
  if (b.files.length > maxFiles) {
    throw new CairnError('server.error', `${pageUrl} lists ${b.files.length} files, more than the cap of ${maxFiles}`, { url: pageUrl, limit: maxFiles });
  }
  const files = b.files.flatMap((f): IndexFile[] => {
    const file = f as Record<string, unknown>;
    if (typeof file.filename !== 'string' || typeof file.url !== 'string') return [];
    const hashes = (file.hashes ?? {}) as Record<string, unknown>;
    const provenance = file.provenance;
    return [
      {
        filename: file.filename,
        url: new URL(file.url, pageUrl).toString(),
        sha256: typeof hashes.sha256 === 'string' ? hashes.sha256.toLowerCase() : null,
        provenanceUrl: typeof provenance === 'string' ? new URL(provenance, pageUrl).toString() : provenance === null ? null : undefined,
        yanked: file.yanked !== undefined && file.yanked !== false,
      },
    ];
  });
  const marker = b['project-status'];
  // An unknown status is treated as absent rather than guessed at (PEP 792 lets indices add none).
  const status = marker && isProjectStatus(marker.status) ? { status: marker.status, reason: typeof marker.reason === 'string' ? marker.reason : null } : undefined;
  return { name: typeof b.name === 'string' ? b.name : '', pageUrl, files, ...(status ? { status } : {}) };
}

/** Whether `BASE/simple/` exists, asked once per base and process. */
const simpleRoots = new Map<string, Promise<boolean>>();

function servesSimpleRoot(base: string, options: FetchOptions): Promise<boolean> {
  let known = simpleRoots.get(base);
  if (!known) {
    known = options.limit(async () => {
      try {
        // HEAD: PyPI's root lists every project.
        const response = await fetch(`${base}/simple/`, { method: 'HEAD', headers: { 'User-Agent': 'cairn-verify' }, signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
        return response.status !== 404 && response.status !== 410;
      } catch {
        // Unreachable is reported by the request that needed the page, not here.
        return true;
      }
    });
    simpleRoots.set(base, known);
  }
  return known;
}

export async function fetchProjectPage(index: string, project: string, options: FetchOptions): Promise<IndexProject> {
  const base = indexBase(index);
  const pageUrl = `${base}/simple/${normalizeProjectName(project)}/`;
  const text = await cachedText('pages', pageUrl, SIMPLE_JSON, options);
  if (text === null) {
    // A wrong --index (a page of the index, another server) 404s every project: say that, rather
    // than report each requirement as missing from an index that is not one.
    if (!options.offline && !(await servesSimpleRoot(base, options))) {
      throw new CairnError('usage.invalid_argument', `${base} is not a package index (${base}/simple/ answers 404): --index is the index's base URL, e.g. http://127.0.0.1:8470`);
    }
    throw new CairnError('verify.not_found', `the index ${base} has no project ${project}`);
  }
  return parseProjectJson(text, pageUrl, options.maxFilesPerPage);
}

/** The PEP 740 provenance object, or null when the index has none for the file. */
export async function fetchProvenance(url: string, options: FetchOptions): Promise<string | null> {
  return cachedText('provenance', url, `${INTEGRITY_MEDIA_TYPE}, application/json;q=0.5`, options);
}

/**
 * Downloads a distribution, hashing while it streams, and refuses it unless the sha256 is the
 * expected one (a truncated or substituted download never reaches the cache).
 */
export async function downloadDistribution(url: string, expectedSha256: string | null, options: FetchOptions & { maxBytes?: number }): Promise<{ bytes: Buffer; sha256: string; path: string }> {
  if (expectedSha256 && options.cache.hasFile(expectedSha256)) {
    const path = options.cache.filePath(expectedSha256);
    const bytes = readFileSync(path);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 === expectedSha256) return { bytes, sha256, path };
  }
  if (options.offline) throw new CairnError('verify.offline_miss', `--offline: ${url} is not in the cache`);
  return options.limit(async () => {
    const response = await httpGet(url, '*/*', options);
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      if (response.status === 404) throw new CairnError('verify.not_found', `${url} answered 404`);
      throw serverError(url, response);
    }
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    const max = options.maxBytes ?? 1024 * 1024 * 1024;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > max) throw new CairnError('verify.digest_mismatch', `${url} is larger than ${max} bytes`);
        hash.update(chunk);
        chunks.push(Buffer.from(chunk));
      }
    } catch (error) {
      if (error instanceof CairnError) throw error;
      throw new CairnError('network.error', `download of ${url} broke off after ${size} bytes: ${(error as Error).message}`);
    }
    const sha256 = hash.digest('hex');
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > 0 && declared !== size) {
      throw new CairnError('verify.digest_mismatch', `download of ${url} is truncated: ${size} of ${declared} bytes`);
    }
    if (expectedSha256 && sha256 !== expectedSha256) {
      throw new CairnError('verify.digest_mismatch', `${url} has sha256 ${sha256}, the index lists ${expectedSha256} (truncated or substituted download)`);
    }
    const bytes = Buffer.concat(chunks);
    const path = options.cache.putFile(sha256, bytes);
    return { bytes, sha256, path };
  });
}
