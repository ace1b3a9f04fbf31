import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CairnError, isCairnError } from '../../errors.ts';
import { parseDistributionFilename, sameDistribution } from '../../formats/dist-filename.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import { isPylockFilename, parsePylock, type LockFile } from '../../formats/pylock.ts';
import { parsePinnedRequirement, parseRequirementsTxt, type PinnedRequirement } from '../../formats/requirements-txt.ts';
import { claimedSubjectName, attestationsFromJson, parseJsonText } from './attestation-input.ts';
import type { DistributionRequest, VerifySession } from './verify-distribution.ts';

/**
 * Turns what the user typed (`cairn verify TARGET… [-r FILE]`) into one request per distribution
 * file: local files (paired with `--attestation` files by the subject they claim), `name==version`
 * and requirements lines resolved on the index, and the files a PEP 751 lock pins.
 */

export interface TargetOptions {
  index?: string;
  attestationFiles?: string[];
  requirementFiles?: string[];
  /** Download files whose digest a lock or `--hash` pins, to re-check what the index serves. */
  download?: boolean;
}

export interface LockTarget {
  path: string;
  text: string;
  lock: LockFile;
  /** Indexes into the request list, per package key `name==version`. */
  requestsByPackage: Map<string, number[]>;
}

export interface ResolvedTargets {
  requests: DistributionRequest[];
  locks: LockTarget[];
}

type TargetKind = 'pylock' | 'requirements' | 'pin' | 'file';

function classify(target: string): TargetKind {
  const isFile = existsSync(target) && statSync(target).isFile();
  if (isPylockFilename(target)) return 'pylock';
  if (isFile && /\.(txt|in)$/.test(target)) return 'requirements';
  if (!isFile && /===?/.test(target)) return 'pin';
  if (isFile) return 'file';
  throw new CairnError('usage.invalid_argument', `${target}: no such file, and not name==version`);
}

function failedRequest(filename: string, origin: string, error: unknown): DistributionRequest {
  return { filename, origin, error: isCairnError(error) ? error : new CairnError('internal.error', String(error)) };
}

async function requestsForPin(session: VerifySession, pin: PinnedRequirement, options: TargetOptions, index: string): Promise<DistributionRequest[]> {
  const label = `${pin.name}==${pin.version}`;
  try {
    const page = await session.projectPage(index, pin.name);
    const files = page.files.filter((f) => {
      try {
        const parsed = parseDistributionFilename(f.filename);
        return parsed.normalizedProject === pin.normalizedName && normalizeVersion(parsed.version) === pin.version;
      } catch {
        return false;
      }
    });
    if (files.length === 0 && page.status?.status === 'quarantined') {
      // PEP 792: the index serves nothing of a quarantined project; that is the answer, not a missing release.
      const why = page.status.reason ? ` (${page.status.reason})` : '';
      throw new CairnError('policy.project_status', `${label}: the index ${index} marks ${pin.normalizedName} quarantined${why} (PEP 792) and serves none of its files`);
    }
    if (files.length === 0) throw new CairnError('verify.not_found', `${label}: the index ${index} has no files for this release`);
    const chosen = pin.sha256.length > 0 ? files.filter((f) => f.sha256 !== null && pin.sha256.includes(f.sha256)) : files;
    const out: DistributionRequest[] = chosen.map((f) => ({
      filename: f.filename,
      project: pin.normalizedName,
      version: pin.version,
      origin: pin.origin,
      url: f.url,
      sha256: f.sha256,
      download: pin.sha256.length === 0 || options.download === true,
      ...(f.provenanceUrl !== undefined ? { provenanceUrl: f.provenanceUrl } : {}),
      index,
    }));
    for (const hash of pin.sha256) {
      if (!files.some((f) => f.sha256 === hash)) {
        out.push(failedRequest(label, pin.origin, new CairnError('verify.digest_mismatch', `${label}: no file of this release on ${index} has the pinned sha256 ${hash}`)));
      }
    }
    return out;
  } catch (error) {
    // A usage error (the --index is no index) is the command's, not this requirement's.
    if (isCairnError(error) && error.code === 'usage.invalid_argument') throw error;
    return [failedRequest(label, pin.origin, error)];
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CairnError('usage.invalid_argument', `cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

function readRequirementsTree(path: string, seen: Set<string>): { pins: PinnedRequirement[]; indexUrl: string | null } {
  const full = resolve(path);
  if (seen.has(full)) return { pins: [], indexUrl: null };
  seen.add(full);
  const parsed = parseRequirementsTxt(readText(path, 'requirements file'), path);
  const pins = [...parsed.requirements];
  let indexUrl = parsed.indexUrl;
  for (const include of parsed.includes) {
    const nested = readRequirementsTree(resolve(dirname(path), include), seen);
    pins.push(...nested.pins);
    indexUrl ??= nested.indexUrl;
  }
  return { pins, indexUrl };
}

function requestsForLock(path: string, lock: LockFile, options: TargetOptions, requests: DistributionRequest[]): Map<string, number[]> {
  const byPackage = new Map<string, number[]>();
  for (const pkg of lock.packages) {
    const key = `${pkg.normalizedName}==${pkg.version ?? ''}`;
    const indexes: number[] = [];
    if (pkg.otherSource) {
      indexes.push(requests.length);
      requests.push(failedRequest(`${pkg.name} (${pkg.otherSource})`, pkg.origin, new CairnError('policy.missing_provenance', `${pkg.origin}: a ${pkg.otherSource} source has no PEP 740 provenance to verify`)));
    }
    for (const file of pkg.files) {
      indexes.push(requests.length);
      const index = pkg.index ?? options.index;
      const url = file.url ? new URL(file.url, pkg.index ?? options.index ?? 'file:///').toString() : undefined;
      if (!file.sha256) {
        requests.push(failedRequest(file.filename, pkg.origin, new CairnError('lockfile.invalid', `${pkg.origin}: ${file.filename} has no sha256 hash; PEP 740 provenance binds sha256`)));
        continue;
      }
      requests.push({
        filename: file.filename,
        project: pkg.normalizedName,
        ...(pkg.version ? { version: pkg.version } : {}),
        origin: pkg.origin,
        sha256: file.sha256,
        ...(file.path ? { path: resolve(dirname(path), file.path) } : {}),
        ...(url ? { url } : {}),
        download: options.download === true,
        ...(index ? { index } : {}),
        lockIdentities: pkg.attestationIdentities,
      });
    }
    byPackage.set(key, [...(byPackage.get(key) ?? []), ...indexes]);
  }
  return byPackage;
}

/** Pairs each `--attestation` file with the local distribution its statement names (any, when only one is given). */
function pairAttestations(files: DistributionRequest[], attestationFiles: string[]): void {
  if (attestationFiles.length === 0) return;
  if (files.length === 0) throw new CairnError('usage.invalid_argument', '--attestation needs a local distribution file to verify');
  if (files.length === 1) {
    files[0]!.attestationFiles = [...attestationFiles];
    return;
  }
  for (const path of attestationFiles) {
    const list = attestationsFromJson(parseJsonText(readText(path, '--attestation'), path, 'attestation.malformed'), path);
    const name = list.map(claimedSubjectName).find((n) => n !== null);
    const target = name
      ? files.find((f) => {
          try {
            return sameDistribution(parseDistributionFilename(f.filename), parseDistributionFilename(name));
          } catch {
            return false;
          }
        })
      : undefined;
    if (!target) throw new CairnError('usage.invalid_argument', `--attestation ${path} names ${name ?? 'no readable subject'}, which is none of the files given`);
    target.attestationFiles = [...(target.attestationFiles ?? []), path];
  }
}

export async function resolveTargets(session: VerifySession, targets: string[], options: TargetOptions): Promise<ResolvedTargets> {
  const requests: DistributionRequest[] = [];
  const locks: LockTarget[] = [];
  const localFiles: DistributionRequest[] = [];
  const pins: { pin: PinnedRequirement; index: string | undefined }[] = [];
  const requirementFiles = [...(options.requirementFiles ?? [])];

  for (const target of targets) {
    const kind = classify(target);
    if (kind === 'requirements') requirementFiles.push(target);
    else if (kind === 'pin') pins.push({ pin: parsePinnedRequirement(target, target), index: options.index });
    else if (kind === 'pylock') {
      const text = readText(target, 'lock file');
      const lock = parsePylock(text, target);
      locks.push({ path: target, text, lock, requestsByPackage: requestsForLock(target, lock, options, requests) });
    } else {
      const filename = target.split(/[\\/]/).at(-1)!;
      parseDistributionFilename(filename);
      const request: DistributionRequest = { filename, path: target, origin: target, ...(options.index ? { index: options.index } : {}) };
      localFiles.push(request);
      requests.push(request);
    }
  }
  for (const file of requirementFiles) {
    const { pins: filePins, indexUrl } = readRequirementsTree(file, new Set());
    for (const pin of filePins) pins.push({ pin, index: options.index ?? indexUrl ?? undefined });
  }
  pairAttestations(localFiles, options.attestationFiles ?? []);
  // Requirements are resolved on an index; without one, the command line is incomplete (exit 2),
  // which is said before anything is fetched rather than as a row per requirement.
  const unresolvable = pins.filter((p) => !p.index).map((p) => `${p.pin.name}==${p.pin.version}`);
  if (unresolvable.length > 0) {
    throw new CairnError(
      'usage.invalid_argument',
      `${unresolvable.slice(0, 3).join(', ')}${unresolvable.length > 3 ? ` and ${unresolvable.length - 3} more` : ''}: give --index URL (the index's base URL, e.g. http://127.0.0.1:8470; env CAIRN_INDEX_URL) to resolve requirements`,
    );
  }
  const resolved = await Promise.all(pins.map(({ pin, index }) => requestsForPin(session, pin, options, index!)));
  for (const list of resolved) requests.push(...list);
  if (requests.length === 0) throw new CairnError('usage.invalid_argument', 'nothing to verify: give files, name==version, -r requirements.txt or a pylock.toml');
  return { requests, locks };
}
