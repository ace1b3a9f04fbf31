import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CairnError } from '../../errors.ts';

/**
 * Passing bytes on while their sha256 is still unknown. The stream holds back its last chunk
 * until the digest is known: when it differs, the consumer has received an incomplete file and
 * the generator throws, so the HTTP layer can cut the connection and the installer sees a broken
 * download, never a complete wrong file (even when a Content-Length was sent). Bytes that match
 * are written to the content-addressed cache through a temp file renamed only after the check.
 */

/** A temp file beside `finalPath`, renamed onto it on commit, removed on discard. */
export class CacheSink {
  private handle: FileHandle | null = null;
  private readonly tempPath: string;
  private done = false;

  constructor(private readonly finalPath: string) {
    this.tempPath = `${finalPath}.${randomBytes(6).toString('hex')}.part`;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.handle) {
      await mkdir(dirname(this.finalPath), { recursive: true });
      this.handle = await open(this.tempPath, 'w');
    }
    await this.handle.write(chunk);
  }

  async commit(): Promise<void> {
    if (this.done) return;
    if (!this.handle) {
      await mkdir(dirname(this.finalPath), { recursive: true });
      this.handle = await open(this.tempPath, 'w');
    }
    // Durable before visible: a crash never leaves a cache entry whose bytes are not all there.
    await this.handle.sync();
    await this.handle.close();
    this.handle = null;
    await rename(this.tempPath, this.finalPath);
    this.done = true;
  }

  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle?.close().catch(() => undefined);
    this.handle = null;
    await unlink(this.tempPath).catch(() => undefined);
  }
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Yields `source` unchanged except that the last chunk comes only after the whole stream hashed
 * to `expectedSha256`; otherwise throws `verify.digest_mismatch` in its place. Stopping early
 * (the client went away) cancels `source` and leaves nothing in the cache.
 */
export async function* digestCheckedChunks(
  source: AsyncIterable<Uint8Array>,
  expectedSha256: string,
  label: string,
  cacheSink: CacheSink | null,
): AsyncGenerator<Buffer, void, undefined> {
  let sink = cacheSink;
  // The cache is an optimisation: a full disk must not break a download that verifies.
  const dropCache = async () => {
    await sink?.discard();
    sink = null;
  };
  const hash = createHash('sha256');
  let held: Buffer | null = null;
  let size = 0;
  let committed = false;
  try {
    for await (const raw of source) {
      const chunk = asBuffer(raw);
      if (chunk.length === 0) continue;
      hash.update(chunk);
      size += chunk.length;
      if (sink) await sink.write(chunk).catch(dropCache);
      if (held) yield held;
      held = chunk;
    }
    const actual = hash.digest('hex');
    if (actual !== expectedSha256) {
      throw new CairnError(
        'verify.digest_mismatch',
        `${label}: the bytes (${size}) have sha256 ${actual}, but the verified listing says ${expectedSha256}; the download was cut off before its end`,
        { expected: expectedSha256, actual, size },
      );
    }
    if (sink) await sink.commit().catch(dropCache);
    committed = true;
    if (held) yield held;
  } finally {
    if (!committed) await sink?.discard();
  }
}
