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

/**
 * Numbers are bigints: PEP 440 puts no bound on a numeric component, and a float would turn
 * `1.99999999999999999999` into another version when normalised.
 */
export interface Version {
  epoch: bigint;
  release: bigint[];
  pre: { label: 'a' | 'b' | 'rc'; number: bigint } | null;
  post: bigint | null;
  dev: bigint | null;
  local: (string | bigint)[] | null;
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
    epoch: g.epoch ? BigInt(g.epoch) : 0n,
    release: g.release.split('.').map(BigInt),
    pre: preLabel ? { label: preLabel, number: BigInt(g.preN ?? 0) } : null,
    post: g.post ? BigInt(postNumber ?? 0) : null,
    dev: g.dev ? BigInt(g.devN ?? 0) : null,
    local: g.local ? g.local.toLowerCase().split(/[-_.]/).map((part) => (/^[0-9]+$/.test(part) ? BigInt(part) : part)) : null,
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

function sign(d: bigint): number {
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

function compareNumberLists(a: bigint[], b: bigint[]): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = sign((a[i] ?? 0n) - (b[i] ?? 0n));
    if (d !== 0) return d;
  }
  return 0;
}

const PRE_ORDER = { a: 0n, b: 1n, rc: 2n } as const;

/** PEP 440 ordering: dev < pre < final < post within one release; local labels sort after their public version. */
function sortKey(v: Version): bigint[] {
  // Pre-release slot: a dev-only release sorts before every pre-release of it; a final release after them.
  const pre = v.pre ? [PRE_ORDER[v.pre.label], v.pre.number] : v.post === null && v.dev !== null ? [-1n, 0n] : [3n, 0n];
  const post = v.post === null ? [0n] : [v.post + 1n];
  // Absent dev sorts after every dev number, however large.
  const dev = v.dev === null ? [1n, 0n] : [0n, v.dev];
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
    if (typeof x === 'bigint' && typeof y === 'bigint') {
      if (x !== y) return sign(x - y);
    } else if (typeof x === 'bigint') return 1; // numeric segments sort after alphanumeric ones
    else if (typeof y === 'bigint') return -1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (x.epoch !== y.epoch) return sign(x.epoch - y.epoch);
  const release = compareNumberLists(x.release, y.release);
  if (release !== 0) return release;
  const keys = compareNumberLists(sortKey(x), sortKey(y));
  if (keys !== 0) return keys;
  return compareLocal(x.local, y.local);
}
