import { CairnError } from '../errors.ts';

/**
 * Canonical JSON as TUF signs it (the OLPC dialect, TUF specification §4.2 and
 * securesystemslib): object keys sorted, no whitespace, only integers, and in strings only `\`
 * and `"` escaped. Written as one pass into an array of parts, so a bin of thousands of targets
 * costs linear time (the reference model's spread-in-a-reduce does not).
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join('');
}

function writeString(text: string, parts: string[]): void {
  parts.push('"', text.replace(/\\/g, '\\\\').replace(/"/g, '\\"'), '"');
}

function write(value: unknown, parts: string[]): void {
  if (typeof value === 'string') return writeString(value, parts);
  if (value === null || typeof value === 'boolean') {
    parts.push(String(value));
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new CairnError('internal.error', `canonical JSON has no floats: ${value}`);
    parts.push(String(value));
    return;
  }
  if (Array.isArray(value)) {
    parts.push('[');
    value.forEach((item, i) => {
      if (i > 0) parts.push(',');
      write(item, parts);
    });
    parts.push(']');
    return;
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    // Default sort: UTF-16 code units, as the reference implementations sort these (ASCII) keys.
    const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
    parts.push('{');
    keys.forEach((key, i) => {
      if (i > 0) parts.push(',');
      writeString(key, parts);
      parts.push(':');
      write(record[key], parts);
    });
    parts.push('}');
    return;
  }
  throw new CairnError('internal.error', `canonical JSON cannot encode ${typeof value}`);
}
