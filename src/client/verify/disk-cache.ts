import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The consumer-side cache under `--cache-dir`: index pages and provenance objects (keyed by URL,
 * fresh for a TTL), trusted roots fetched by URL, and downloaded distributions (content-addressed
 * by sha256, so a cached file is re-checked by its name). Entries are written to a temp file and
 * renamed, so a crash never leaves half an entry. Nothing read from here is trusted more than
 * what the network would give: provenance is verified on every use, files are hashed.
 */

export type CacheArea = 'pages' | 'provenance' | 'roots';

export interface CachedText {
  text: string;
  ageMs: number;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CAIRN_CACHE_DIR) return env.CAIRN_CACHE_DIR;
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cairn');
}

export class VerifyCache {
  constructor(readonly dir: string) {}

  private pathFor(area: CacheArea, key: string): string {
    return join(this.dir, area, createHash('sha256').update(key).digest('hex'));
  }

  private write(path: string, data: string | Buffer): void {
    mkdirSync(join(path, '..'), { recursive: true });
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(temp, data);
    renameSync(temp, path);
  }

  getText(area: CacheArea, key: string, now = Date.now()): CachedText | null {
    const path = this.pathFor(area, key);
    try {
      const stat = statSync(path);
      return { text: readFileSync(path, 'utf8'), ageMs: now - stat.mtimeMs };
    } catch {
      return null;
    }
  }

  putText(area: CacheArea, key: string, text: string): void {
    this.write(this.pathFor(area, key), text);
  }

  filePath(sha256: string): string {
    return join(this.dir, 'files', sha256.slice(0, 2), sha256);
  }

  hasFile(sha256: string): boolean {
    try {
      return statSync(this.filePath(sha256)).isFile();
    } catch {
      return false;
    }
  }

  putFile(sha256: string, bytes: Buffer): string {
    const path = this.filePath(sha256);
    this.write(path, bytes);
    return path;
  }
}
