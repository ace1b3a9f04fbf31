import { parse, TomlError } from 'smol-toml';
import { CairnError } from '../errors.ts';
import { isSha256Hex } from './digests.ts';
import { normalizeVersion } from './pep440.ts';
import { normalizeProjectName } from './project-name.ts';

/**
 * PEP 751 lock files (`pylock.toml`, `pylock.NAME.toml`): the packages, the files they lock
 * (sdist, wheels, archive) with their sha256, the index each comes from, and their
 * `attestation-identities` (the PEP 740 publishers a file's provenance must name). Pure.
 */

export interface LockedFile {
  filename: string;
  url: string | null;
  path: string | null;
  sha256: string | null;
  kind: 'sdist' | 'wheel';
}

/** A PEP 740 publisher as PEP 751 records it: `kind` plus the kind's own keys. */
export type AttestationIdentity = Record<string, unknown> & { kind: string };

export interface LockedPackage {
  name: string;
  normalizedName: string;
  version: string | null;
  /** The simple index URL the files come from (`packages.index`). */
  index: string | null;
  files: LockedFile[];
  /** Set when the package comes from a VCS, directory or archive URL, which carry no PEP 740 provenance. */
  otherSource: 'vcs' | 'directory' | 'archive' | null;
  attestationIdentities: AttestationIdentity[] | null;
  /** `pylock.toml packages[3]` */
  origin: string;
}

export interface LockFile {
  lockVersion: string;
  packages: LockedPackage[];
}


export function isPylockFilename(name: string): boolean {
  return /(^|[\\/])pylock(\.[^.\\/]+)?\.toml$/.test(name);
}

function invalid(origin: string, message: string): never {
  throw new CairnError('lockfile.invalid', `${origin}: ${message}`, { origin });
}

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function filenameFrom(file: Table, origin: string): string {
  if (typeof file.name === 'string' && file.name !== '') return file.name;
  const locator = typeof file.url === 'string' ? file.url : typeof file.path === 'string' ? file.path : null;
  if (!locator) invalid(origin, 'has neither name, url nor path');
  const last = decodeURIComponent(locator.split(/[?#]/)[0]!.split('/').at(-1) ?? '');
  if (last === '') invalid(origin, `cannot tell the file name from ${JSON.stringify(locator)}`);
  return last;
}

function readFile(value: unknown, origin: string, kind: LockedFile['kind']): LockedFile {
  if (!isTable(value)) invalid(origin, 'must be a table');
  if (value.url === undefined && value.path === undefined) invalid(origin, 'needs url or path (PEP 751)');
  const hashes = value.hashes;
  if (!isTable(hashes)) invalid(`${origin}.hashes`, 'is required and must be a table (PEP 751)');
  const raw = hashes.sha256;
  let sha256: string | null = null;
  if (raw !== undefined) {
    if (typeof raw !== 'string' || !isSha256Hex(raw.toLowerCase())) invalid(`${origin}.hashes.sha256`, 'must be a hex sha256 digest');
    sha256 = raw.toLowerCase();
  }
  return {
    filename: filenameFrom(value, origin),
    url: typeof value.url === 'string' ? value.url : null,
    path: typeof value.path === 'string' ? value.path : null,
    sha256,
    kind,
  };
}

function readIdentities(value: unknown, origin: string): AttestationIdentity[] | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) invalid(origin, 'must be an array of tables');
  return value.map((entry, i) => {
    if (!isTable(entry) || typeof entry.kind !== 'string' || entry.kind === '') invalid(`${origin}[${i}]`, 'must be a table with a `kind` string (PEP 751)');
    return { ...entry } as AttestationIdentity;
  });
}

export function parsePylock(text: string, source = 'pylock.toml'): LockFile {
  let doc: Table;
  try {
    doc = parse(text) as Table;
  } catch (error) {
    if (error instanceof TomlError) invalid(`${source}:${error.line}:${error.column}`, `not valid TOML: ${error.message.split('\n')[0]}`);
    throw error;
  }
  const lockVersion = doc['lock-version'];
  if (typeof lockVersion !== 'string') invalid(source, '`lock-version` is required (PEP 751)');
  // PEP 751: a tool must refuse a major version it does not know.
  if (!/^1(\.\d+)?$/.test(lockVersion)) invalid(source, `unsupported lock-version ${JSON.stringify(lockVersion)}; this cairn reads 1.x`);
  const packagesRaw = doc.packages ?? [];
  if (!Array.isArray(packagesRaw)) invalid(source, '`packages` must be an array of tables');
  const packages = packagesRaw.map((p, i): LockedPackage => {
    const origin = `${source} packages[${i}]`;
    if (!isTable(p)) invalid(origin, 'must be a table');
    if (typeof p.name !== 'string' || p.name === '') invalid(origin, '`name` is required');
    const named = `${origin} (${p.name})`;
    let version: string | null = null;
    if (p.version !== undefined) {
      if (typeof p.version !== 'string') invalid(named, '`version` must be a string');
      try {
        version = normalizeVersion(p.version);
      } catch {
        invalid(named, `\`${p.version}\` is not a PEP 440 version`);
      }
    }
    const files: LockedFile[] = [];
    if (p.sdist !== undefined) files.push(readFile(p.sdist, `${named}.sdist`, 'sdist'));
    if (p.wheels !== undefined) {
      if (!Array.isArray(p.wheels)) invalid(`${named}.wheels`, 'must be an array of tables');
      p.wheels.forEach((w, j) => files.push(readFile(w, `${named}.wheels[${j}]`, 'wheel')));
    }
    const otherSource = p.vcs !== undefined ? 'vcs' : p.directory !== undefined ? 'directory' : p.archive !== undefined ? 'archive' : null;
    if (otherSource !== null && files.length > 0) invalid(named, `has ${otherSource} and sdist/wheels; PEP 751 allows one source kind`);
    return {
      name: p.name,
      normalizedName: normalizeProjectName(p.name),
      version,
      index: typeof p.index === 'string' ? p.index : null,
      files,
      otherSource,
      attestationIdentities: readIdentities(p['attestation-identities'], `${named}.attestation-identities`),
      origin: named,
    };
  });
  return { lockVersion, packages };
}

function tomlString(value: string): string {
  return JSON.stringify(value); // a JSON string is a valid TOML basic string for the characters used here
}

function inlineIdentity(identity: AttestationIdentity): string {
  const pairs = Object.entries(identity)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => `${/^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k)} = ${typeof v === 'string' ? tomlString(v) : String(v)}`);
  return `{ ${pairs.join(', ')} }`;
}

/**
 * Writes `attestation-identities` into the `[[packages]]` tables named in `identities` (keyed by
 * normalised name and version), as a text edit so comments and layout survive. An existing
 * single-line `attestation-identities` is replaced; a multi-line one is an error.
 */
export function withAttestationIdentities(text: string, identities: Map<string, AttestationIdentity[]>, source = 'pylock.toml'): string {
  const lines = text.split('\n');
  const blocks: { start: number; end: number }[] = [];
  lines.forEach((line, i) => {
    if (/^\s*\[\[\s*packages\s*\]\]\s*(#.*)?$/.test(line)) blocks.push({ start: i, end: lines.length });
    else if (/^\s*\[/.test(line) && blocks.length > 0 && !/^\s*\[\[?\s*packages\./.test(line)) blocks.at(-1)!.end = Math.min(blocks.at(-1)!.end, i);
  });
  const parsed = parsePylock(text, source);
  if (parsed.packages.length !== blocks.length) invalid(source, 'cannot edit: packages are not all written as [[packages]] tables');
  const edits: { at: number; remove: number; line: string }[] = [];
  parsed.packages.forEach((pkg, i) => {
    const key = `${pkg.normalizedName}==${pkg.version ?? ''}`;
    const wanted = identities.get(key);
    if (!wanted || wanted.length === 0) return;
    const block = blocks[i]!;
    // Keys of the package table come before its first sub-table header.
    let keysEnd = block.end;
    for (let j = block.start + 1; j < block.end; j++) {
      if (/^\s*\[/.test(lines[j]!)) {
        keysEnd = j;
        break;
      }
    }
    const line = `attestation-identities = [${wanted.map(inlineIdentity).join(', ')}]`;
    const existing = lines.slice(block.start + 1, keysEnd).findIndex((l) => /^\s*attestation-identities\s*=/.test(l));
    if (existing >= 0) {
      const at = block.start + 1 + existing;
      if (!/\]\s*(#.*)?$/.test(lines[at]!)) invalid(pkg.origin, 'has a multi-line attestation-identities; edit it by hand');
      edits.push({ at, remove: 1, line });
    } else {
      let at = keysEnd;
      while (at > block.start + 1 && lines[at - 1]!.trim() === '') at--;
      edits.push({ at, remove: 0, line });
    }
  });
  for (const edit of edits.sort((a, b) => b.at - a.at)) lines.splice(edit.at, edit.remove, edit.line);
  const out = lines.join('\n');
  parsePylock(out, source);
  return out;
}
