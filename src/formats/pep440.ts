import { CairnError } from '../errors.ts';

/** The version grammar of PEP 440 (Appendix B), case-insensitive, with its permitted spellings. */
const VERSION_PATTERN = new RegExp(
  '^\\s*v?' +
    '(?:(?<epoch>[0-9]+)!)?' +
    '(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?<pre>[-_.]?(?<preL>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<preN>[0-9]+)?)?' +
    '(?<post>(?:-(?<postN1>[0-9]+))|(?:[-_.]?(?<postL>post|rev|r)[-_.]?(?<postN2>[0-9]+)?))?' +
    '(?<dev>[-_.]?(?<devL>dev)[-_.]?(?<devN>[0-9]+)?)?' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?' +
    '\\s*$',
  'i',
);

export interface Version {
  epoch: number;
  release: number[];
  pre: { label: 'a' | 'b' | 'rc'; number: number } | null;
  post: number | null;
  dev: number | null;
  local: (string | number)[] | null;
}

const PRE_LABELS: Record<string, 'a' | 'b' | 'rc'> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };

export function parseVersion(text: string): Version {
  const match = text.length <= 128 ? VERSION_PATTERN.exec(text) : null;
  const g = match?.groups;
  if (!g || g.release === undefined) {
    throw new CairnError('version.invalid', `Invalid version '${text.slice(0, 100)}': versions follow PEP 440 (e.g. 1.0, 2.1rc1, 3.0.post1)`);
  }
  const preLabel = g.preL ? PRE_LABELS[g.preL.toLowerCase()] : undefined;
  const postNumber = g.postN1 ?? g.postN2;
  return {
    epoch: g.epoch ? Number(g.epoch) : 0,
    release: g.release.split('.').map(Number),
    pre: preLabel ? { label: preLabel, number: Number(g.preN ?? 0) } : null,
    post: g.post ? Number(postNumber ?? 0) : null,
    dev: g.dev ? Number(g.devN ?? 0) : null,
    local: g.local ? g.local.toLowerCase().split(/[-_.]/).map((part) => (/^[0-9]+$/.test(part) ? Number(part) : part)) : null,
  };
}

export function formatVersion(v: Version): string {
  let out = v.epoch ? `${v.epoch}!` : '';
  out += v.release.join('.');
  if (v.pre) out += `${v.pre.label}${v.pre.number}`;
  if (v.post !== null) out += `.post${v.post}`;
  if (v.dev !== null) out += `.dev${v.dev}`;
  if (v.local) out += `+${v.local.join('.')}`;
  return out;
}

/** The canonical spelling PyPI stores and pip compares (`1.0-RC1` → `1.0rc1`). */
export function normalizeVersion(text: string): string {
  return formatVersion(parseVersion(text));
}

export function isPrerelease(text: string): boolean {
  const v = parseVersion(text);
  return v.pre !== null || v.dev !== null;
}

function compareNumberLists(a: number[], b: number[]): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const PRE_ORDER = { a: 0, b: 1, rc: 2 } as const;

/** PEP 440 ordering: dev < pre < final < post within one release; local labels sort after their public version. */
function sortKey(v: Version): number[] {
  // Pre-release slot: a dev-only release sorts before every pre-release of it; a final release after them.
  const pre = v.pre ? [PRE_ORDER[v.pre.label], v.pre.number] : v.post === null && v.dev !== null ? [-1, 0] : [3, 0];
  const post = v.post === null ? [-1] : [v.post];
  const dev = v.dev === null ? [Number.MAX_SAFE_INTEGER] : [v.dev];
  return [...pre, ...post, ...dev];
}

function compareLocal(a: Version['local'], b: Version['local']): number {
  if (!a && !b) return 0;
  if (!a) return -1;
  if (!b) return 1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x === 'number' && typeof y === 'number') {
      if (x !== y) return Math.sign(x - y);
    } else if (typeof x === 'number') return 1; // numeric segments sort after alphanumeric ones
    else if (typeof y === 'number') return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (x.epoch !== y.epoch) return Math.sign(x.epoch - y.epoch);
  const release = compareNumberLists(x.release, y.release);
  if (release !== 0) return release;
  const keys = compareNumberLists(sortKey(x), sortKey(y));
  if (keys !== 0) return keys;
  return compareLocal(x.local, y.local);
}
