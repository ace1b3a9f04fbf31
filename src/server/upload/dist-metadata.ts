import { createReadStream } from 'node:fs';
import { createGunzip, gunzipSync, inflateRawSync } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import yauzl from 'yauzl';
import tar from 'tar-stream';
import { CairnError } from '../../errors.ts';
import { parseCoreMetadata, type CoreMetadata } from '../../formats/core-metadata.ts';
import type { ParsedDistributionFilename } from '../../formats/dist-filename.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';

/** METADATA / PKG-INFO larger than this is refused: real ones are kilobytes; this stops zip bombs. */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;
/** An sdist is scanned for PKG-INFO through at most this many decompressed bytes. */
export const MAX_SDIST_SCAN_BYTES = 512 * 1024 * 1024;
const MAX_ZIP_ENTRIES = 200_000;
/**
 * A .tar.gz in memory up to this size is decompressed in one synchronous call (its output capped
 * at IN_MEMORY_TAR_BYTES, past which the streaming scan takes over): for the small files of a
 * bulk import, zlib streams cost more in thread-pool round trips than in decompressing.
 */
const IN_MEMORY_GZIP_BYTES = 4 * 1024 * 1024;
const IN_MEMORY_TAR_BYTES = 64 * 1024 * 1024;

export interface DistributionMetadata {
  raw: Buffer;
  metadata: CoreMetadata;
}

const invalidArchive = (filename: string, why: string) =>
  new CairnError('upload.invalid_archive', `Invalid distribution file: ${filename} ${why}`);

/** A distribution on disk (an upload's temp file), or already in memory (a file being imported). */
export type DistributionSource = string | Buffer;

/**
 * Reads the core metadata of an uploaded distribution (wheel `*.dist-info/METADATA`, sdist
 * `PKG-INFO`) with bounded decompression, and checks that it describes the file's own release.
 */
export async function readDistributionMetadata(source: DistributionSource, parsed: ParsedDistributionFilename): Promise<DistributionMetadata> {
  const raw =
    parsed.extension === '.tar.gz' ? await readFromTarGz(source, parsed) : await readFromZip(source, parsed);
  let text: string;
  try {
    // The core metadata specification requires UTF-8; a lossy decode would serve a `.metadata`
    // file whose bytes no longer match the digest announced for it (PEP 658).
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw invalidArchive(parsed.filename, 'has core metadata that is not valid UTF-8');
  }
  let metadata: CoreMetadata;
  try {
    metadata = parseCoreMetadata(text);
  } catch (error) {
    if (error instanceof CairnError) throw new CairnError('upload.invalid_archive', `Invalid distribution file: ${parsed.filename}: ${error.message}`);
    throw error;
  }
  if (normalizeProjectName(metadata.name) !== parsed.normalizedProject) {
    throw new CairnError('upload.metadata_mismatch', `The metadata of ${parsed.filename} names project '${metadata.name}', not '${parsed.project}'`);
  }
  let metadataVersion: string;
  try {
    metadataVersion = normalizeVersion(metadata.version);
  } catch {
    throw new CairnError('upload.metadata_mismatch', `The metadata of ${parsed.filename} has an invalid version '${metadata.version}'`);
  }
  if (metadataVersion !== normalizeVersion(parsed.version)) {
    throw new CairnError('upload.metadata_mismatch', `The metadata of ${parsed.filename} says version '${metadata.version}', the filename '${parsed.version}'`);
  }
  return { raw, metadata };
}

/** Picks the metadata member: the wheel's top-level `.dist-info/METADATA`, or the sdist's `<top>/PKG-INFO`. */
function metadataMemberScore(name: string, parsed: ParsedDistributionFilename): number {
  const parts = name.split('/');
  if (parts.length !== 2) return 0;
  const [dir, file] = parts as [string, string];
  if (parsed.kind === 'wheel') {
    if (file !== 'METADATA' || !dir.endsWith('.dist-info')) return 0;
    const project = dir.slice(0, -'.dist-info'.length).split('-')[0] ?? '';
    return normalizeProjectName(project) === parsed.normalizedProject ? 2 : 1;
  }
  if (file !== 'PKG-INFO') return 0;
  return dir === parsed.filename.slice(0, -parsed.extension.length) ? 2 : 1;
}

function openZip(source: DistributionSource): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const options = { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false };
    const opened = (err: Error | null, zip?: yauzl.ZipFile) => (err || !zip ? reject(err ?? new Error('cannot open zip')) : resolve(zip));
    if (typeof source === 'string') yauzl.open(source, options, opened);
    else yauzl.fromBuffer(source, options, opened);
  });
}

async function readFromZip(source: DistributionSource, parsed: ParsedDistributionFilename): Promise<Buffer> {
  const what = parsed.kind === 'wheel' ? '.dist-info/METADATA' : 'PKG-INFO';
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(source);
  } catch (error) {
    throw invalidArchive(parsed.filename, `is not a readable zip archive (${(error as Error).message})`);
  }
  try {
    const best = await new Promise<yauzl.Entry | null>((resolve, reject) => {
      let chosen: { entry: yauzl.Entry; score: number } | null = null;
      let seen = 0;
      zip.on('entry', (entry: yauzl.Entry) => {
        if (++seen > MAX_ZIP_ENTRIES) {
          reject(invalidArchive(parsed.filename, `has more than ${MAX_ZIP_ENTRIES} entries`));
          return;
        }
        const score = metadataMemberScore(entry.fileName, parsed);
        if (score > 0 && (!chosen || score > chosen.score)) chosen = { entry, score };
        zip.readEntry();
      });
      zip.on('end', () => resolve(chosen?.entry ?? null));
      zip.on('error', (err: Error) => reject(invalidArchive(parsed.filename, `is corrupt (${err.message})`)));
      zip.readEntry();
    });
    if (!best) throw invalidArchive(parsed.filename, `has no ${what}`);
    if (best.uncompressedSize > MAX_METADATA_BYTES) {
      throw invalidArchive(parsed.filename, `has a ${what} of ${best.uncompressedSize} bytes (limit ${MAX_METADATA_BYTES})`);
    }
    return typeof source === 'string' ? await readZipEntry(zip, best, parsed.filename) : await inflateZipEntry(zip, best, parsed.filename);
  } finally {
    zip.close();
  }
}

function readZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, filename: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) {
        reject(invalidArchive(filename, `is corrupt (${err?.message ?? 'unreadable entry'})`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      stream.on('data', (chunk: Buffer) => {
        total += chunk.length;
        // yauzl checks the declared size too; this guards entries that lie about it.
        if (total > MAX_METADATA_BYTES) stream.destroy(invalidArchive(filename, `has metadata beyond ${MAX_METADATA_BYTES} bytes`));
        else chunks.push(chunk);
      });
      stream.on('error', (e: Error) => reject(e instanceof CairnError ? e : invalidArchive(filename, `is corrupt (${e.message})`)));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
  });
}

/**
 * The entry of a zip held in memory: its raw bytes through yauzl (which checks the local header),
 * inflated in one bounded synchronous call.
 */
function inflateZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, filename: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, { decompress: false }, (err, stream) => {
      if (err || !stream) {
        reject(invalidArchive(filename, `is corrupt (${err?.message ?? 'unreadable entry'})`));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (e: Error) => reject(invalidArchive(filename, `is corrupt (${e.message})`)));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        let data: Buffer;
        try {
          if (entry.compressionMethod === 0) data = raw;
          else if (entry.compressionMethod === 8) data = inflateRawSync(raw, { maxOutputLength: MAX_METADATA_BYTES });
          else throw new Error(`unsupported compression method ${entry.compressionMethod}`);
        } catch (e) {
          reject(invalidArchive(filename, `is corrupt (${(e as Error).message})`));
          return;
        }
        // What yauzl's validateEntrySizes checks on the streaming path.
        if (data.length !== entry.uncompressedSize) {
          reject(invalidArchive(filename, `is corrupt (an entry is ${data.length} bytes, its header says ${entry.uncompressedSize})`));
          return;
        }
        resolve(data);
      });
    });
  });
}

/** A small .tar.gz decompressed at once, or null when it is not small (then it is streamed). */
function gunzipSmall(source: DistributionSource, filename: string): Buffer | null {
  if (typeof source === 'string' || source.length > IN_MEMORY_GZIP_BYTES) return null;
  try {
    return gunzipSync(source, { maxOutputLength: IN_MEMORY_TAR_BYTES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
    throw invalidArchive(filename, `is not a readable .tar.gz (${(error as Error).message})`);
  }
}

async function readFromTarGz(source: DistributionSource, parsed: ParsedDistributionFilename): Promise<Buffer> {
  const tarBytes = gunzipSmall(source, parsed.filename);
  const extract = tar.extract();
  let found: { score: number; data: Buffer } | null = null;
  let scanned = 0;
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      const score = header.type === 'file' ? metadataMemberScore(name, parsed) : 0;
      if (score === 0 || (found && found.score >= score)) {
        stream.on('end', next);
        stream.resume();
        return;
      }
      if ((header.size ?? 0) > MAX_METADATA_BYTES) {
        extract.destroy(invalidArchive(parsed.filename, `has a PKG-INFO of ${header.size} bytes (limit ${MAX_METADATA_BYTES})`));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        found = { score, data: Buffer.concat(chunks) };
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  try {
    if (tarBytes) {
      // Already within MAX_SDIST_SCAN_BYTES (IN_MEMORY_TAR_BYTES is smaller): nothing to count.
      extract.end(tarBytes);
      await finished;
    } else {
      // Counts decompressed bytes so a small .tar.gz cannot make the scan run without bound.
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          scanned += chunk.length;
          if (scanned > MAX_SDIST_SCAN_BYTES) done(invalidArchive(parsed.filename, `decompresses beyond ${MAX_SDIST_SCAN_BYTES} bytes`));
          else done(null, chunk);
        },
      });
      const input = typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
      await Promise.all([pipeline(input, createGunzip(), counter, extract), finished]);
    }
  } catch (error) {
    if (error instanceof CairnError) throw error;
    throw invalidArchive(parsed.filename, `is not a readable .tar.gz (${(error as Error).message})`);
  }
  const result = found as { data: Buffer } | null;
  if (!result) throw invalidArchive(parsed.filename, 'has no PKG-INFO');
  return result.data;
}
