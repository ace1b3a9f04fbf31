import { CairnError } from '../errors.ts';
import { isSha256Hex } from './digests.ts';
import { normalizeVersion } from './pep440.ts';
import { isValidProjectName, normalizeProjectName } from './project-name.ts';

/**
 * The subset of pip's requirements file format that names exact distributions: `name==version`
 * lines (extras and environment markers allowed), `--hash=sha256:…` options, `\` continuations,
 * comments, `-r`/`-c` includes and `--index-url`. Anything that does not pin one version (ranges,
 * URLs, editables) is an error: only a pinned release has one set of files to verify. Pure.
 */

export interface PinnedRequirement {
  name: string;
  normalizedName: string;
  version: string;
  /** Lower-case hex sha256 digests from `--hash=sha256:…`; empty when the line has none. */
  sha256: string[];
  /** `requirements.txt:LINE`, for messages. */
  origin: string;
}

export interface RequirementsFile {
  requirements: PinnedRequirement[];
  /** Files named by `-r FILE` / `--requirement FILE` (relative to this file), for the caller to read. */
  includes: string[];
  /** `--index-url` / `-i`, when the file sets one. */
  indexUrl: string | null;
}

const PIN = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*===?\s*([^\s;,]+)\s*(;.*)?$/;

function invalid(origin: string, message: string): never {
  throw new CairnError('lockfile.invalid', `${origin}: ${message}`, { origin });
}

/** Joins `\`-continued lines, keeping the number of the first physical line. */
function logicalLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let pending: { line: number; text: string } | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const continued = raw.endsWith('\\');
    const body = continued ? raw.slice(0, -1) : raw;
    pending = pending ? { line: pending.line, text: `${pending.text} ${body}` } : { line: i + 1, text: body };
    if (!continued) {
      out.push(pending);
      pending = null;
    }
  });
  if (pending) out.push(pending);
  return out;
}

/** Splits on whitespace, keeping `--opt value` and `--opt=value` both readable. */
function tokens(text: string): string[] {
  return text.split(/\s+/).filter((t) => t !== '');
}

export function parseRequirementsTxt(text: string, source = 'requirements.txt'): RequirementsFile {
  const requirements: PinnedRequirement[] = [];
  const includes: string[] = [];
  let indexUrl: string | null = null;
  for (const { line, text: logical } of logicalLines(text)) {
    // pip: a `#` starts a comment at the line start or after whitespace.
    const content = logical.replace(/(^|\s)#.*$/, '').trim();
    if (content === '') continue;
    const origin = `${source}:${line}`;
    const parts = tokens(content);
    const first = parts[0]!;
    if (first.startsWith('-')) {
      const [option, inlineValue] = first.includes('=') ? [first.slice(0, first.indexOf('=')), first.slice(first.indexOf('=') + 1)] : [first, parts[1]];
      switch (option) {
        case '-r':
        case '--requirement':
        case '-c':
        case '--constraint':
          if (!inlineValue) invalid(origin, `${option} needs a file name`);
          includes.push(inlineValue);
          continue;
        case '-i':
        case '--index-url':
          if (!inlineValue) invalid(origin, `${option} needs a URL`);
          indexUrl = inlineValue;
          continue;
        case '--extra-index-url':
        case '--find-links':
        case '-f':
        case '--trusted-host':
        case '--pre':
        case '--prefer-binary':
        case '--only-binary':
        case '--no-binary':
        case '--require-hashes':
        case '--no-index':
          continue;
        case '-e':
        case '--editable':
          invalid(origin, 'editable requirements have no published distribution to verify');
          break;
        default:
          invalid(origin, `unsupported option ${option}`);
      }
    }
    const hashes: string[] = [];
    const spec: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '--hash' || part.startsWith('--hash=')) {
        const value = part === '--hash' ? parts[++i] : part.slice('--hash='.length);
        if (!value) invalid(origin, '--hash needs ALGORITHM:DIGEST');
        const [algorithm, digest] = value.split(':', 2) as [string, string | undefined];
        if (algorithm.toLowerCase() !== 'sha256') continue; // pip accepts others; PEP 740 binds sha256
        if (!digest || !isSha256Hex(digest.toLowerCase())) invalid(origin, `--hash=${value} is not a sha256 hex digest`);
        hashes.push(digest.toLowerCase());
      } else if (part.startsWith('--')) {
        invalid(origin, `unsupported per-requirement option ${part}`);
      } else {
        spec.push(part);
      }
    }
    const requirement = spec.join(' ');
    if (/^[a-z+]+:\/\//i.test(requirement) || requirement.includes(' @ ')) {
      invalid(origin, `\`${requirement}\` is a direct URL reference, not a release on an index`);
    }
    const match = PIN.exec(requirement);
    if (!match) invalid(origin, `\`${requirement}\` is not pinned to one version (write name==version)`);
    const [, name, , version] = match as unknown as [string, string, string | undefined, string];
    if (!isValidProjectName(name)) invalid(origin, `\`${name}\` is not a valid project name`);
    if (version.includes('*')) invalid(origin, `\`${requirement}\` uses a wildcard; pin one version`);
    let normalizedVersion: string;
    try {
      normalizedVersion = normalizeVersion(version);
    } catch {
      return invalid(origin, `\`${version}\` is not a PEP 440 version`);
    }
    requirements.push({ name, normalizedName: normalizeProjectName(name), version: normalizedVersion, sha256: [...new Set(hashes)], origin });
  }
  return { requirements, includes, indexUrl };
}

/** `name==version` given on the command line. */
export function parsePinnedRequirement(text: string, origin = 'command line'): PinnedRequirement {
  const parsed = parseRequirementsTxt(text, origin);
  const only = parsed.requirements[0];
  if (!only || parsed.requirements.length !== 1) invalid(origin, `\`${text}\` is not name==version`);
  return { ...only, origin };
}
