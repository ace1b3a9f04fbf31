/** Presentation of stored values: sizes, times, distribution kinds. */

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** ISO-8601 (as stored) to `2024-05-01 12:34 UTC`; unparsable input is shown as is. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 10);
}

/** Transparency-log integrated time: stored as ISO-8601; Unix seconds (Rekor's own form) also accepted. */
export function integratedTimeIso(value: string | number | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  const date = /^\d+$/.test(String(value)) ? new Date(Number(value) * 1000) : new Date(String(value));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function packageTypeLabel(packagetype: string): string {
  if (packagetype === 'bdist_wheel') return 'Wheel';
  if (packagetype === 'sdist') return 'Source';
  return packagetype;
}

/** `https://github.com/org/repo` → `org/repo`: the forge prefix repeats on every line otherwise. */
export function shortForgeUrl(url: string): string {
  return url.replace(/^https:\/\/(github\.com|gitlab\.com)\//, '').replace(/^https?:\/\//, '').replace(/\.git$/, '');
}

export function shortCommit(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 7) : '';
}
