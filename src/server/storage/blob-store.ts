import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CairnError } from '../../errors.ts';
import { isSha256Hex } from '../../formats/digests.ts';
import { DigestWorkers } from './digest-workers.ts';

/** Digests computed while a blob streams in; hex strings. */
export interface BlobDigests {
  sha256: string;
  md5: string;
  blake2b256: string;
}

/** A blob written to a temporary file, not yet visible anywhere. */
export interface ReceivedBlob extends BlobDigests {
  tempPath: string;
  size: number;
}

/**
 * Where distribution bytes live. Content-addressed by sha256 so the same bytes are stored once and
 * a path can never be overwritten with other content. Kept behind an interface so an S3-compatible
 * store can replace the file system one (DESIGN §7).
 */
export interface BlobStore {
  /** Streams `source` to a temp file while hashing; refuses more than `maxBytes`. */
  receive(source: Readable, maxBytes: number): Promise<ReceivedBlob>;
  /** fsync + atomic rename into the content-addressed location. */
  commit(blob: ReceivedBlob): Promise<void>;
  discard(blob: ReceivedBlob): Promise<void>;
  remove(sha256: string): Promise<void>;
  exists(sha256: string): Promise<boolean>;
  size(sha256: string): Promise<number | null>;
  openRead(sha256: string, range?: { start: number; end: number }): Readable;
  /** Removes temp files left by a crash. */
  cleanTemp(): Promise<void>;
  /** Stops the digest worker threads. */
  close(): Promise<void>;
}


export class FileSystemBlobStore implements BlobStore {
  private readonly blobDir: string;
  private readonly tempDir: string;

  constructor(
    root: string,
    private readonly digests: DigestWorkers = new DigestWorkers(),
  ) {
    this.blobDir = join(root, 'blobs', 'sha256');
    this.tempDir = join(root, 'tmp');
    mkdirSync(this.blobDir, { recursive: true });
    mkdirSync(this.tempDir, { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!isSha256Hex(sha256)) throw new CairnError('request.malformed', `not a sha256 digest: ${sha256}`);
    return join(this.blobDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async receive(source: Readable, maxBytes: number): Promise<ReceivedBlob> {
    const tempPath = join(this.tempDir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    const sha256 = createHash('sha256');
    const others = this.digests.start();
    // Up to 4 MiB waits in memory for the disk, so a slow write does not stall the socket.
    const out = createWriteStream(tempPath, { flags: 'wx', highWaterMark: 4 * 1024 * 1024 });
    // Every error of the temp file is kept and rethrown below: without a listener, a failed write
    // (a full disk), or a buffered one cut short by destroy(), would crash the process.
    let writeError: Error | null = null;
    out.on('error', (error) => (writeError ??= error));
    let size = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        size += chunk.length;
        // Keep reading to the end without storing: leaving the loop would destroy the source, and
        // a multipart parser waiting on that part would then never finish the request.
        if (size > maxBytes || writeError) continue;
        sha256.update(chunk);
        const workersKeepUp = others.update(chunk);
        // events.once removes its listeners when settled; hand-rolled once() pairs would pile up.
        if (!out.write(chunk)) await once(out, 'drain').catch(() => undefined);
        if (!workersKeepUp) await others.drained();
      }
      if (writeError) throw new CairnError('internal.error', `writing the upload to disk failed: ${(writeError as Error).message}`);
      if (size > maxBytes) {
        throw new CairnError('upload.too_large', `file exceeds the upload limit of ${maxBytes} bytes`, { limit: maxBytes });
      }
      const [{ md5, blake2b256 }] = await Promise.all([
        others.finish(),
        new Promise<void>((resolve, reject) => {
          out.once('error', reject);
          out.end((error?: Error | null) => (error ? reject(error) : resolve()));
        }),
      ]);
      return { tempPath, size, sha256: sha256.digest('hex'), md5, blake2b256 };
    } catch (error) {
      others.abort();
      out.destroy();
      await rm(tempPath, { force: true });
      throw error;
    }
  }

  async commit(blob: ReceivedBlob): Promise<void> {
    const handle = await open(blob.tempPath, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const target = this.pathOf(blob.sha256);
    const dir = join(this.blobDir, blob.sha256.slice(0, 2), blob.sha256.slice(2, 4));
    await mkdir(dir, { recursive: true });
    await rename(blob.tempPath, target);
    // The rename is durable only once its directory entry is.
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  async discard(blob: ReceivedBlob): Promise<void> {
    await rm(blob.tempPath, { force: true });
  }

  async remove(sha256: string): Promise<void> {
    await unlink(this.pathOf(sha256)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async exists(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== null;
  }

  async size(sha256: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch {
      return null;
    }
  }

  openRead(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(sha256), range);
  }

  async close(): Promise<void> {
    await this.digests.close();
  }

  async cleanTemp(): Promise<void> {
    for (const entry of await readdir(this.tempDir)) await rm(join(this.tempDir, entry), { force: true });
  }
}
