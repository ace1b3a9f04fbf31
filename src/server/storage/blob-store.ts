import { execFile } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { mkdir, open, opendir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CairnError } from '../../errors.ts';
import { isSha256Hex } from '../../formats/digests.ts';
import { DigestWorkers } from './digest-workers.ts';
import type { S3Location } from './s3-location.ts';
import { TempSpool, type ReceivedBlob } from './temp-spool.ts';

/** Digests computed while a blob streams in; hex strings. */
export interface BlobDigests {
  sha256: string;
  md5: string;
  blake2b256: string;
}

export type { ReceivedBlob } from './temp-spool.ts';

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
export type BlobStoreLocation = { kind: 'filesystem'; root: string } | S3Location;

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
  /**
   * The blob's bytes (a range of them, both ends included). Rejects with `blob.missing` when the
   * store has lost a blob the catalogue references, before any byte is sent.
   */
  read(sha256: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Where a client may fetch the blob itself (a presigned URL), or null: cairn streams it. */
  downloadUrl(sha256: string, filename: string): Promise<string | null>;
  /** Every stored blob with when it was written: what an orphan sweep walks. */
  list(): AsyncIterable<{ sha256: string; written: Date }>;
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
  /** Start-up check that the store is reachable and writable as configured. */
  verify(): Promise<void>;
  /** Stops the digest worker threads. */
  close(): Promise<void>;
}


/** Opens the store a location names; the S3 client is loaded only when one is configured. */
export async function openBlobStore(location: BlobStoreLocation): Promise<BlobStore> {
  if (location.kind === 'filesystem') return new FileSystemBlobStore(location.root);
  const { S3BlobStore } = await import('./s3-blob-store.ts');
  return new S3BlobStore(location);
}

export class FileSystemBlobStore implements BlobStore {
  readonly location: BlobStoreLocation;
  private readonly blobDir: string;
  private readonly spool: TempSpool;
  /** Fan-out directories known to exist, so a batch commit does not mkdir for every blob. */
  private readonly knownDirs = new Set<string>();
  /** Whether `sync -f` (syncfs(2)) works here; learnt on the first batch commit. */
  private syncfsWorks: boolean | null = null;

  constructor(
    root: string,
    private readonly digests: DigestWorkers = new DigestWorkers(),
  ) {
    this.location = { kind: 'filesystem', root };
    this.blobDir = join(root, 'blobs', 'sha256');
    mkdirSync(this.blobDir, { recursive: true });
    this.spool = new TempSpool(join(root, 'tmp'), digests);
  }

  pathOf(sha256: string): string {
    if (!isSha256Hex(sha256)) throw new CairnError('request.malformed', `not a sha256 digest: ${sha256}`);
    return join(this.blobDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  receive(source: Readable, maxBytes: number): Promise<ReceivedBlob> {
    return this.spool.receive(source, maxBytes);
  }

  checkWritable(): Promise<void> {
    return this.spool.checkWritable();
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

  discard(blob: ReceivedBlob): Promise<void> {
    return this.spool.discard(blob);
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
    return { ...blob, stageId: this.spool.writeStaged(bytes) };
  }

  async commitStaged(blobs: readonly StagedBlob[]): Promise<void> {
    if (blobs.length === 0) return;
    const dirs = new Set<string>();
    for (const blob of blobs) dirs.add(this.dirOf(blob.sha256));
    await Promise.all(
      blobs.map(async (blob) => {
        if (blob.stageId === null) return;
        const from = this.spool.stagedPath(blob.stageId);
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
    await Promise.all(blobs.map((blob) => (blob.stageId === null ? undefined : this.spool.discardStaged(blob.stageId))));
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

  async read(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    const path = this.pathOf(sha256);
    // Opened before the stream is handed out, so a lost blob is an error answer, not a cut-off body.
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new CairnError('blob.missing', `the blob store has lost blob ${sha256} (${path} is gone)`, { sha256 });
      throw error;
    });
    return handle.createReadStream(range);
  }

  async verify(): Promise<void> {}

  async downloadUrl(): Promise<string | null> {
    return null;
  }

  async *list(): AsyncIterable<{ sha256: string; written: Date }> {
    for await (const first of await opendir(this.blobDir)) {
      if (!first.isDirectory()) continue;
      for await (const second of await opendir(join(this.blobDir, first.name))) {
        if (!second.isDirectory()) continue;
        const dir = join(this.blobDir, first.name, second.name);
        for await (const entry of await opendir(dir)) {
          if (!entry.isFile() || !isSha256Hex(entry.name)) continue;
          const info = await stat(join(dir, entry.name)).catch(() => null);
          if (info) yield { sha256: entry.name, written: info.mtime };
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.digests.close();
  }

  cleanTemp(options: { olderThan?: Date } = {}): Promise<void> {
    return this.spool.clean(options);
  }
}
