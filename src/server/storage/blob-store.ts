import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
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

/** Bytes put aside by `stage`, not visible anywhere until `commitStaged`. */
export interface StagedBlob extends BlobDigests {
  size: number;
  /**
   * The store's own name for the staged bytes; callers hand it back and never interpret it. Null
   * when the store held these bytes already (it is content-addressed: nothing was written).
   */
  readonly stageId: string | null;
}

/**
 * How another thread opens the same store (structured-cloneable): a bulk import's workers stage
 * blobs themselves. An S3-compatible store would name its endpoint and bucket here.
 */
export type BlobStoreLocation = { kind: 'filesystem'; root: string };

/**
 * Where distribution bytes live. Content-addressed by sha256 so the same bytes are stored once and
 * a path can never be overwritten with other content. Kept behind an interface so an S3-compatible
 * store can replace the file system one (DESIGN §7).
 */
export interface BlobStore {
  readonly location: BlobStoreLocation;
  /** Streams `source` to a temp file while hashing; refuses more than `maxBytes`. */
  receive(source: Readable, maxBytes: number): Promise<ReceivedBlob>;
  /** fsync + atomic rename into the content-addressed location. */
  commit(blob: ReceivedBlob): Promise<void>;
  discard(blob: ReceivedBlob): Promise<void>;
  remove(sha256: string): Promise<void>;
  exists(sha256: string): Promise<boolean>;
  size(sha256: string): Promise<number | null>;
  openRead(sha256: string, range?: { start: number; end: number }): Readable;
  /**
   * Puts bytes aside whose digests the caller computed from these very bytes (a bulk import hashes
   * them on worker threads); nothing serves them until `commitStaged`. When the store holds these
   * bytes already nothing is written (`stageId` null). An object store would upload them under a
   * temporary key with the sha256 as the checksum the server verifies. Meant for worker threads:
   * the file-system store writes with blocking calls, which cost a worker less than thread-pool
   * round trips.
   */
  stage(bytes: Uint8Array, digests: BlobDigests): Promise<StagedBlob>;
  /**
   * Moves staged blobs to their content addresses and makes them durable together: when this
   * resolves, every one of them survives a crash or power loss (one flush for the whole batch),
   * those the store held already too (another process may have renamed one into place without
   * flushing it yet).
   */
  commitStaged(blobs: readonly StagedBlob[]): Promise<void>;
  /** Forgets staged blobs that will not be committed. */
  discardStaged(blobs: readonly StagedBlob[]): Promise<void>;
  /**
   * Removes temp files left by a crash: all of them (start-up, nothing else writing), or only
   * those untouched since `olderThan` (while uploads or another import may be writing).
   */
  cleanTemp(options?: { olderThan?: Date }): Promise<void>;
  /** Resolves when the store can take a write now (`/healthz`); rejects with the reason otherwise. */
  checkWritable(): Promise<void>;
  /** Stops the digest worker threads. */
  close(): Promise<void>;
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

export function openBlobStore(location: BlobStoreLocation): BlobStore {
  return new FileSystemBlobStore(location.root);
}

export class FileSystemBlobStore implements BlobStore {
  readonly location: BlobStoreLocation;
  private readonly blobDir: string;
  private readonly tempDir: string;
  /** Fan-out directories known to exist, so a batch commit does not mkdir for every blob. */
  private readonly knownDirs = new Set<string>();
  /** Names of staged files: random per store instance (one per thread), then a counter. */
  private readonly stagePrefix = randomBytes(8).toString('hex');
  private staged = 0;
  /** Whether `sync -f` (syncfs(2)) works here; learnt on the first batch commit. */
  private syncfsWorks: boolean | null = null;

  constructor(
    root: string,
    private readonly digests: DigestWorkers = new DigestWorkers(),
  ) {
    this.location = { kind: 'filesystem', root };
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
      if (writeError) throw blobWriteFailure(writeError);
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

  async checkWritable(): Promise<void> {
    const probe = join(this.tempDir, `health-${randomBytes(8).toString('hex')}.part`);
    try {
      await writeFile(probe, 'ok', { flag: 'wx' });
    } finally {
      await rm(probe, { force: true });
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

  private stagedPath(stageId: string): string {
    if (!STAGE_ID.test(stageId)) throw new CairnError('internal.error', `not a staged blob of this store: ${stageId}`);
    return join(this.tempDir, `${stageId}.part`);
  }

  private dirOf(sha256: string): string {
    return join(this.blobDir, sha256.slice(0, 2), sha256.slice(2, 4));
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.knownDirs.add(dir);
  }

  async stage(bytes: Uint8Array, digests: BlobDigests): Promise<StagedBlob> {
    const blob = { sha256: digests.sha256, md5: digests.md5, blake2b256: digests.blake2b256, size: bytes.length };
    const target = this.pathOf(digests.sha256);
    // The blob's directory is made now, where staging runs (a worker thread), so the batch
    // commit is only renames. A directory just made holds no blob yet.
    const dir = this.dirOf(digests.sha256);
    const madeNow = !this.knownDirs.has(dir) && mkdirSync(dir, { recursive: true }) !== undefined;
    this.knownDirs.add(dir);
    if (!madeNow && statSync(target, { throwIfNoEntry: false })?.isFile()) return { ...blob, stageId: null };
    const stageId = `stage-${this.stagePrefix}${(this.staged++).toString(16).padStart(8, '0')}`;
    writeFileSync(this.stagedPath(stageId), bytes, { flag: 'wx' });
    return { ...blob, stageId };
  }

  async commitStaged(blobs: readonly StagedBlob[]): Promise<void> {
    if (blobs.length === 0) return;
    const dirs = new Set<string>();
    for (const blob of blobs) dirs.add(this.dirOf(blob.sha256));
    await Promise.all(
      blobs.map(async (blob) => {
        if (blob.stageId === null) return;
        const from = this.stagedPath(blob.stageId);
        const to = this.pathOf(blob.sha256);
        await rename(from, to).catch(async (error: NodeJS.ErrnoException) => {
          // Staged by a store that did not make the directory (or it was removed since).
          if (error.code !== 'ENOENT') throw error;
          await this.ensureDir(this.dirOf(blob.sha256));
          await rename(from, to);
        });
      }),
    );
    // One flush for the batch instead of an fsync per file and per directory: syncfs(2) writes
    // back every dirty page and inode of the file system, the renamed files and their directory
    // entries among them. Renaming before the flush is safe because the caller recorded blob
    // intents first: until its rows commit, a crash leaves blobs that recovery removes.
    await this.flush(blobs.map((blob) => this.pathOf(blob.sha256)), dirs);
  }

  private async flush(files: readonly string[], dirs: ReadonlySet<string>): Promise<void> {
    if (this.syncfsWorks !== false) {
      const synced = await new Promise<boolean>((resolve) => execFile('sync', ['-f', this.blobDir], (error) => resolve(error === null)));
      if (synced) {
        this.syncfsWorks = true;
        return;
      }
      if (this.syncfsWorks === true) throw new CairnError('internal.error', `flushing ${this.blobDir} to disk failed (sync -f)`);
      // No `sync -f` here (not Linux, or coreutils older than 8.24): fsync one by one.
      this.syncfsWorks = false;
    }
    const fsync = async (path: string) => {
      const handle = await open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    };
    await Promise.all(files.map(fsync));
    await Promise.all([...dirs].map(fsync));
  }

  async discardStaged(blobs: readonly StagedBlob[]): Promise<void> {
    await Promise.all(blobs.map((blob) => (blob.stageId === null ? undefined : rm(this.stagedPath(blob.stageId), { force: true }))));
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

  async cleanTemp(options: { olderThan?: Date } = {}): Promise<void> {
    const cutoff = options.olderThan?.getTime();
    for (const entry of await readdir(this.tempDir)) {
      const path = join(this.tempDir, entry);
      if (cutoff !== undefined) {
        const modified = await stat(path).then((s) => s.mtimeMs, () => null);
        if (modified === null || modified >= cutoff) continue;
      }
      await rm(path, { force: true });
    }
  }
}
