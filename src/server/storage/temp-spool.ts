import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
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
