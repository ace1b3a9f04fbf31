import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CairnError } from '../../errors.ts';
import type { BlobDigests } from './blob-store.ts';
import type { DigestWorkers } from './digest-workers.ts';

/** A blob written to a temporary file, not yet visible anywhere. */
export interface ReceivedBlob extends BlobDigests {
  tempPath: string;
  size: number;
}

const STAGE_ID = /^stage-[0-9a-f]{24,32}$/;

/** A failed write of blob bytes: a full disk is `storage.full` (507), not the client's fault. */
export function blobWriteFailure(error: Error): CairnError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new CairnError('storage.full', `the index's storage is full (${code}): the upload was not stored; try again once the operator has made room`, { code });
  }
  return new CairnError('internal.error', `writing the upload to disk failed: ${error.message}`);
}

/**
 * Local temporary files where bytes wait while they are hashed and checked, before a blob store
 * makes them visible (a rename on the same file system, or a PUT to object storage). Every store
 * keeps its spool on the instance's own disk: the upload's checks read the file, not the store.
 */
export class TempSpool {
  /** Names of staged files: random per spool instance (one per thread), then a counter. */
  private readonly stagePrefix = randomBytes(8).toString('hex');
  private staged = 0;

  constructor(
    readonly dir: string,
    private readonly digests: DigestWorkers,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  async receive(source: Readable, maxBytes: number): Promise<ReceivedBlob> {
    const tempPath = join(this.dir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
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
      if (writeError) throw blobWriteFailure(writeError as Error);
      if (size > maxBytes) {
        throw new CairnError('upload.too_large', `file exceeds the upload limit of ${maxBytes} bytes`, { limit: maxBytes });
      }
      const [{ md5, blake2b256 }] = await Promise.all([
        others.finish(),
        new Promise<void>((resolve, reject) => {
          out.once('error', (error) => reject(blobWriteFailure(error)));
          out.end((error?: Error | null) => (error ? reject(blobWriteFailure(error)) : resolve()));
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

  /** Resolves when a file can be written here now (`/healthz`): a full or read-only disk rejects. */
  async checkWritable(): Promise<void> {
    const probe = join(this.dir, `health-${randomBytes(8).toString('hex')}.part`);
    try {
      await writeFile(probe, 'ok', { flag: 'wx' });
    } finally {
      await rm(probe, { force: true });
    }
  }

  async discard(blob: ReceivedBlob): Promise<void> {
    await rm(blob.tempPath, { force: true });
  }

  /** Writes bytes under a fresh stage id (blocking: meant for worker threads). */
  writeStaged(bytes: Uint8Array): string {
    const stageId = `stage-${this.stagePrefix}${(this.staged++).toString(16).padStart(8, '0')}`;
    writeFileSync(this.stagedPath(stageId), bytes, { flag: 'wx' });
    return stageId;
  }

  stagedPath(stageId: string): string {
    if (!STAGE_ID.test(stageId)) throw new CairnError('internal.error', `not a staged blob of this store: ${stageId}`);
    return join(this.dir, `${stageId}.part`);
  }

  async discardStaged(stageId: string): Promise<void> {
    await rm(this.stagedPath(stageId), { force: true });
  }

  /** Removes temp files: all of them, or only those untouched since `olderThan`. */
  async clean(options: { olderThan?: Date } = {}): Promise<void> {
    const cutoff = options.olderThan?.getTime();
    for (const entry of await readdir(this.dir)) {
      const path = join(this.dir, entry);
      if (cutoff !== undefined) {
        const modified = await stat(path).then((s) => s.mtimeMs, () => null);
        if (modified === null || modified >= cutoff) continue;
      }
      await rm(path, { force: true });
    }
  }
}
