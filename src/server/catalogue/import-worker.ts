// A worker thread of `cairn admin import`: reads distributions, hashes them, reads their core
// metadata and stages their bytes in the blob store: everything of an import that costs CPU or
// touches the bytes, so the importing thread handles only rows.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CairnError } from '../../errors.ts';
import { parseDistributionFilename } from '../../formats/dist-filename.ts';
import { openBlobStore } from '../storage/blob-store.ts';
import { analyseDistribution, DistributionHasher } from './distribution-analysis.ts';
import type { AnalysisJob, AnalysisMessage, AnalysisWorkerData } from './import-pool.ts';

const { maxBytes, store: location } = workerData as AnalysisWorkerData;
const store = openBlobStore(location);
const hasher = new DistributionHasher();
/** Files handled at once: while one waits for the disk, another is hashed. */
const CONCURRENT_FILES = 4;
/** ... but together no more bytes than this in memory, unless a single file is larger. */
const BYTES_IN_MEMORY = 64 * 1024 * 1024;
const queue: AnalysisJob[] = [];
let active = 0;
let heldBytes = 0;
let waiting: (() => void)[] = [];

async function hold(size: number): Promise<void> {
  while (heldBytes > 0 && heldBytes + size > BYTES_IN_MEMORY) await new Promise<void>((resolve) => waiting.push(resolve));
  heldBytes += size;
}

function unhold(size: number): void {
  heldBytes -= size;
  const woken = waiting;
  waiting = [];
  for (const wake of woken) wake();
}

function refusal(job: AnalysisJob, error: unknown): AnalysisMessage {
  if (error instanceof CairnError) return { index: job.index, ok: false, code: error.code, message: error.message };
  const e = error as NodeJS.ErrnoException;
  const why =
    e.code === 'EACCES' || e.code === 'EPERM'
      ? 'permission denied'
      : e.code === 'ELOOP'
        ? 'it was replaced by a symlink during the import'
        : e.code === 'ENOENT'
          ? 'it vanished during the import'
          : (e.code ?? e.message);
  return { index: job.index, ok: false, code: 'import.unreadable', message: `cannot read ${job.path}: ${why}` };
}

/** Opens the file and reads it whole through that one descriptor: the bytes hashed are the bytes stored. */
async function readWhole(job: AnalysisJob, use: (bytes: Buffer) => Promise<AnalysisMessage>): Promise<AnalysisMessage> {
  // O_NOFOLLOW: a file found by the walk and then swapped for a symlink is not followed out of
  // the tree. A symlink's own target was resolved, and checked to be inside, by the walk.
  const fd = openSync(job.open, constants.O_RDONLY | (job.viaSymlink ? 0 : constants.O_NOFOLLOW));
  let size: number;
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new CairnError('import.unreadable', `cannot read ${job.path}: not a regular file`);
    if (info.size > maxBytes) {
      throw new CairnError('upload.too_large', `${job.name} is ${info.size} bytes, over the upload limit of ${maxBytes} bytes`);
    }
    size = info.size;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  await hold(size);
  try {
    return await use(readOpened(job, fd, size));
  } finally {
    unhold(size);
  }
}

function readOpened(job: AnalysisJob, fd: number, size: number): Buffer {
  try {
    const bytes = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < bytes.length) {
      const read = readSync(fd, bytes, filled, bytes.length - filled, filled);
      if (read === 0) throw new CairnError('import.unreadable', `cannot read ${job.path}: it shrank during the import`);
      filled += read;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

async function analyse(job: AnalysisJob): Promise<AnalysisMessage> {
  try {
    // A file that is no distribution is refused by its name alone, without reading it.
    parseDistributionFilename(job.name);
    return await readWhole(job, async (bytes) => {
      const analysed = await analyseDistribution(job.name, bytes, hasher);
      const { sha256, md5, blake2b256 } = analysed;
      // Bytes already in the store (a re-run, the same file twice) are not written again: the
      // store is content-addressed, so what is there is exactly these bytes.
      const staged = (await store.exists(sha256)) ? null : await store.stage(bytes, { sha256, md5, blake2b256 });
      return { index: job.index, ok: true, analysed, staged };
    });
  } catch (error) {
    return refusal(job, error);
  }
}

function pump(): void {
  while (active < CONCURRENT_FILES && queue.length > 0) {
    const job = queue.shift()!;
    active++;
    void analyse(job).then((message) => {
      active--;
      parentPort!.postMessage(message);
      pump();
    });
  }
}

parentPort!.on('message', (jobs: AnalysisJob[]) => {
  queue.push(...jobs);
  pump();
});
