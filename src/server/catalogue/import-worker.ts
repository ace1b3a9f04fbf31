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
const ANSWERS_PER_MESSAGE = 16;
const store = await openBlobStore(location);
const hasher = new DistributionHasher();
const queue: AnalysisJob[] = [];
let running = false;

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

/** Reads the whole file through one descriptor: the bytes hashed are the bytes stored. */
function readWhole(job: AnalysisJob): Buffer {
  // O_NOFOLLOW: a file found by the walk and then swapped for a symlink is not followed out of
  // the tree. A symlink's own target was resolved, and checked to be inside, by the walk.
  const fd = openSync(job.open, constants.O_RDONLY | (job.viaSymlink ? 0 : constants.O_NOFOLLOW));
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new CairnError('import.unreadable', `cannot read ${job.path}: not a regular file`);
    if (info.size > maxBytes) {
      throw new CairnError('upload.too_large', `${job.name} is ${info.size} bytes, over the upload limit of ${maxBytes} bytes`);
    }
    const bytes = Buffer.allocUnsafe(info.size);
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
    const bytes = readWhole(job);
    const analysed = await analyseDistribution(job.name, bytes, hasher);
    const { sha256, md5, blake2b256 } = analysed;
    return { index: job.index, ok: true, analysed, staged: await store.stage(bytes, { sha256, md5, blake2b256 }) };
  } catch (error) {
    return refusal(job, error);
  }
}

/**
 * One file at a time, with blocking file calls: on a worker thread they cost less than the
 * thread-pool round trips of the asynchronous ones. Answers go back in groups, so a message
 * carries many files; the last of a run goes at once.
 */
async function drain(): Promise<void> {
  running = true;
  let answers: AnalysisMessage[] = [];
  while (queue.length > 0) {
    answers.push(await analyse(queue.shift()!));
    if (answers.length >= ANSWERS_PER_MESSAGE || queue.length === 0) {
      parentPort!.postMessage(answers);
      answers = [];
    }
  }
  running = false;
}

parentPort!.on('message', (jobs: AnalysisJob[]) => {
  queue.push(...jobs);
  if (!running) void drain();
});
