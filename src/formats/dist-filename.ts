import { CairnError } from '../errors.ts';
import { normalizeVersion } from './pep440.ts';
import { isValidProjectName, normalizeProjectName } from './project-name.ts';

export interface WheelTags {
  python: string[];
  abi: string[];
  platform: string[];
}

export interface ParsedDistributionFilename {
  filename: string;
  kind: 'wheel' | 'sdist';
  /** The name as spelled in the filename (wheels escape `-` to `_`). */
  project: string;
  normalizedProject: string;
  version: string;
  buildTag?: string;
  tags?: WheelTags;
  extension: '.whl' | '.tar.gz' | '.zip';
}

const SDIST_EXTENSIONS = ['.tar.gz', '.zip'] as const;
/** One tag, or a compressed tag set (`py2.py3`): no empty member, so `py3.` is not `{py3, ''}`. */
const TAG = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

function invalid(filename: string, why: string): never {
  throw new CairnError('filename.invalid', `Invalid distribution filename '${filename.slice(0, 200)}': ${why}`);
}

/** Rejects anything that could escape a directory or confuse a file system before any parsing. */
function assertPlainFilename(filename: string): void {
  if (filename.length === 0) invalid(filename, 'empty');
  if (filename.length > 255) invalid(filename, 'longer than 255 characters');
  if (/[/\\]/.test(filename)) invalid(filename, 'path separators are not allowed');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(filename)) invalid(filename, 'control characters are not allowed');
  if (filename.startsWith('.') || filename.includes('..')) invalid(filename, "leading '.' and '..' are not allowed");
  if (!/^[A-Za-z0-9._+!-]+$/.test(filename)) invalid(filename, "only ASCII letters, digits and '.', '_', '-', '+', '!' are allowed");
}

function checkedVersion(filename: string, version: string): string {
  try {
    normalizeVersion(version);
  } catch {
    invalid(filename, `'${version}' is not a PEP 440 version`);
  }
  return version;
}

function parseWheel(filename: string): ParsedDistributionFilename {
  // Wheel naming (binary distribution format): name-version(-build)?-python-abi-platform.whl
  const parts = filename.slice(0, -'.whl'.length).split('-');
  if (parts.length !== 5 && parts.length !== 6) {
    invalid(filename, 'a wheel is named {name}-{version}(-{build})?-{python tag}-{abi tag}-{platform tag}.whl');
  }
  const [project, version] = parts as [string, string];
  const buildTag = parts.length === 6 ? parts[2] : undefined;
  const [python, abi, platform] = parts.slice(-3) as [string, string, string];
  if (!isValidProjectName(project)) invalid(filename, `'${project}' is not a valid project name`);
  if (buildTag !== undefined && !/^[0-9][A-Za-z0-9_.]*$/.test(buildTag)) invalid(filename, `build tag '${buildTag}' must start with a digit`);
  for (const tag of [python, abi, platform]) {
    if (!TAG.test(tag)) invalid(filename, `'${tag}' is not a valid compatibility tag`);
  }
  return {
    filename,
    kind: 'wheel',
    project,
    normalizedProject: normalizeProjectName(project),
    version: checkedVersion(filename, version),
    ...(buildTag !== undefined ? { buildTag } : {}),
    tags: { python: python.split('.'), abi: abi.split('.'), platform: platform.split('.') },
    extension: '.whl',
  };
}

function parseSdist(filename: string, extension: '.tar.gz' | '.zip'): ParsedDistributionFilename {
  // Source distribution format: {name}-{version}.tar.gz; the version is what follows the last '-'.
  const stem = filename.slice(0, -extension.length);
  const dash = stem.lastIndexOf('-');
  if (dash <= 0) invalid(filename, `an sdist is named {name}-{version}${extension}`);
  const project = stem.slice(0, dash);
  const version = stem.slice(dash + 1);
  if (!isValidProjectName(project)) invalid(filename, `'${project}' is not a valid project name`);
  return {
    filename,
    kind: 'sdist',
    project,
    normalizedProject: normalizeProjectName(project),
    version: checkedVersion(filename, version),
    extension,
  };
}

export function parseDistributionFilename(filename: string): ParsedDistributionFilename {
  assertPlainFilename(filename);
  if (filename.endsWith('.whl')) return parseWheel(filename);
  const extension = SDIST_EXTENSIONS.find((ext) => filename.endsWith(ext));
  if (extension) return parseSdist(filename, extension);
  return invalid(filename, 'distributions are wheels (.whl) or sdists (.tar.gz, .zip)');
}

const sortedSet = (values: string[]) => [...new Set(values.map((v) => v.toLowerCase()))].sort().join('.');

/**
 * PEP 740: an attestation's subject names the distribution; names are compared parsed, so a
 * wheel whose compressed tag sets list the same tags in another order is the same file name.
 */
export function sameDistribution(a: ParsedDistributionFilename, b: ParsedDistributionFilename): boolean {
  if (a.kind !== b.kind || a.normalizedProject !== b.normalizedProject || a.extension !== b.extension) return false;
  if (normalizeVersion(a.version) !== normalizeVersion(b.version)) return false;
  if (a.kind === 'sdist') return true;
  if ((a.buildTag ?? '') !== (b.buildTag ?? '')) return false;
  const ta = a.tags;
  const tb = b.tags;
  if (!ta || !tb) return false;
  return sortedSet(ta.python) === sortedSet(tb.python) && sortedSet(ta.abi) === sortedSet(tb.abi) && sortedSet(ta.platform) === sortedSet(tb.platform);
}

export function packageTypeOf(parsed: ParsedDistributionFilename): 'bdist_wheel' | 'sdist' {
  return parsed.kind === 'wheel' ? 'bdist_wheel' : 'sdist';
}

/** The `python_version` PyPI records: the wheel's python tag, `source` for an sdist. */
export function pythonTagOf(parsed: ParsedDistributionFilename): string {
  return parsed.kind === 'wheel' && parsed.tags ? parsed.tags.python.join('.') : 'source';
}

/** The file must belong to the release named in the upload form (PyPI refuses mismatches). */
export function assertFilenameMatchesRelease(parsed: ParsedDistributionFilename, name: string, version: string): void {
  if (parsed.normalizedProject !== normalizeProjectName(name)) {
    throw new CairnError('upload.filename_mismatch', `Start filename for project '${name}' with '${normalizeProjectName(name).replace(/-/g, '_')}': '${parsed.filename}' names project '${parsed.project}'`);
  }
  if (normalizeVersion(parsed.version) !== normalizeVersion(version)) {
    throw new CairnError('upload.filename_mismatch', `Version in filename should be '${version}', not '${parsed.version}' ('${parsed.filename}')`);
  }
}
