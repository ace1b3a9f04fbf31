import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { startWorker } from '../src/server/worker-entry.ts';

/**
 * A synthetic corpus of small, valid distributions for `cairn admin import` benchmarks: wheels
 * (zip, RECORD with real digests) and sdists (ustar in gzip) whose core metadata names their own
 * project and version. Written in JavaScript, without Python, fast enough for a million files:
 * each file is built in memory (a few kilobytes) and written at once, on a thread per core.
 *
 *   node --import tsx bench/corpus.ts DIR --projects 1000 --files 10 [--layout flat|per-project]
 */
export interface CorpusOptions {
  projects: number;
  /** Files per project: a wheel and an sdist per release, alternately (release 1.0.0, 1.0.1, …). */
  filesPerProject: number;
  /** `flat` as `pip download` and pypiserver's default leave them; `per-project` as pypiserver's subdirectories. */
  layout?: 'flat' | 'per-project';
  /** Number of the first project, so corpora written in parts do not collide. */
  firstProject?: number;
  /** Threads writing files; default one per core. */
  threads?: number;
}

export interface CorpusFile {
  /** Relative to the corpus directory. */
  path: string;
  filename: string;
  project: string;
  version: string;
  kind: 'wheel' | 'sdist';
}

export function corpusProjectName(n: number): string {
  return `corpus-pkg-${n}`;
}

/** A DOS date of 1980-01-01 00:00, so the same corpus has the same bytes on every run. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

interface ZipMember {
  name: string;
  data: Buffer;
  /** Deflated, as wheels usually are; else stored. Each deflate costs a zlib stream (~15 µs). */
  deflate?: boolean;
}

/** A zip archive (APPNOTE 6.3.x §4.3): local headers and data, central directory, end record. */
function zipArchive(members: readonly ZipMember[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const member of members) {
    const name = Buffer.from(member.name, 'utf8');
    const deflated = member.deflate ? deflateRawSync(member.data, { level: 1, windowBits: 12, memLevel: 2 }) : null;
    const stored = deflated === null || deflated.length >= member.data.length;
    const body = stored ? member.data : deflated;
    const crc = crc32(member.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(stored ? 0 : 8, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(member.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(stored ? 0 : 8, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(DOS_DATE, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(body.length, 20);
    header.writeUInt32LE(member.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    // extra, comment, disk number, internal attributes: 0
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external attributes: a regular file, rw-r--r--
    header.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(header, name);
    offset += local.length + name.length + body.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A POSIX ustar archive (POSIX.1-2001 pax "ustar" header), regular files only, names under 100 bytes. */
function tarArchive(members: readonly ZipMember[]): Buffer {
  const blocks: Buffer[] = [];
  for (const member of members) {
    const header = Buffer.alloc(512);
    header.write(member.name, 0, 100, 'utf8');
    header.write(octal(0o644, 8), 100, 'ascii');
    header.write(octal(0, 8), 108, 'ascii');
    header.write(octal(0, 8), 116, 'ascii');
    header.write(octal(member.data.length, 12), 124, 'ascii');
    header.write(octal(0, 12), 136, 'ascii');
    header.write(' '.repeat(8), 148, 'ascii');
    header.write('0', 156, 'ascii');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += header[i]!;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    blocks.push(header, member.data);
    const pad = (512 - (member.data.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function coreMetadata(project: string, version: string): string {
  return [
    'Metadata-Version: 2.1',
    `Name: ${project}`,
    `Version: ${version}`,
    `Summary: Synthetic project ${project} for cairn's import benchmark`,
    'Requires-Python: >=3.8',
    'License: Apache-2.0',
    'Classifier: Programming Language :: Python :: 3',
    '',
    `# ${project}`,
    '',
    'A distribution written by bench/corpus.ts.',
    '',
  ].join('\n');
}

/** RECORD's hash form (wheel spec): urlsafe base64 of the sha256, without padding. */
function recordHash(data: Buffer): string {
  return `sha256=${createHash('sha256').update(data).digest('base64url')}`;
}

export function corpusWheel(project: string, version: string): { filename: string; bytes: Buffer } {
  const dist = project.replace(/[-.]+/g, '_');
  const info = `${dist}-${version}.dist-info`;
  const members: ZipMember[] = [
    { name: `${dist}/__init__.py`, data: Buffer.from(`__version__ = "${version}"\n`) },
    // The member an importer inflates, so it is deflated as in real wheels.
    { name: `${info}/METADATA`, data: Buffer.from(coreMetadata(project, version)), deflate: true },
    { name: `${info}/WHEEL`, data: Buffer.from('Wheel-Version: 1.0\nGenerator: cairn-bench-corpus\nRoot-Is-Purelib: true\nTag: py3-none-any\n') },
  ];
  const record = members.map((m) => `${m.name},${recordHash(m.data)},${m.data.length}`).join('\n') + `\n${info}/RECORD,,\n`;
  members.push({ name: `${info}/RECORD`, data: Buffer.from(record) });
  return { filename: `${dist}-${version}-py3-none-any.whl`, bytes: zipArchive(members) };
}

export function corpusSdist(project: string, version: string): { filename: string; bytes: Buffer } {
  const dist = project.replace(/[-.]+/g, '_');
  const top = `${dist}-${version}`;
  const tar = tarArchive([
    { name: `${top}/PKG-INFO`, data: Buffer.from(coreMetadata(project, version)) },
    {
      name: `${top}/pyproject.toml`,
      data: Buffer.from(`[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "${project}"\nversion = "${version}"\n`),
    },
    { name: `${top}/${dist}/__init__.py`, data: Buffer.from(`__version__ = "${version}"\n`) },
  ]);
  // A small window and the fastest level: zlib's set-up, not the compressing, is most of the cost
  // of a few kilobytes, and any gzip reader takes any window.
  return { filename: `${top}.tar.gz`, bytes: gzipSync(tar, { level: 1, windowBits: 12, memLevel: 2 }) };
}

/** The files of a corpus, one at a time, without writing them. */
export function* corpusFiles(options: CorpusOptions): Generator<CorpusFile & { bytes: Buffer }> {
  const first = options.firstProject ?? 0;
  for (let p = first; p < first + options.projects; p++) {
    const project = corpusProjectName(p);
    for (let f = 0; f < options.filesPerProject; f++) {
      const version = `1.0.${Math.floor(f / 2)}`;
      const kind = f % 2 === 0 ? 'wheel' : 'sdist';
      const { filename, bytes } = kind === 'wheel' ? corpusWheel(project, version) : corpusSdist(project, version);
      const path = options.layout === 'per-project' ? join(project, filename) : filename;
      yield { path, filename, project, version, kind, bytes };
    }
  }
}

/** One thread's share: its projects written with blocking calls (a worker has nothing else to do). */
function writeCorpusPart(dir: string, options: CorpusOptions): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  let lastProject = '';
  for (const file of corpusFiles(options)) {
    if (options.layout === 'per-project' && file.project !== lastProject) {
      mkdirSync(join(dir, file.project), { recursive: true });
      lastProject = file.project;
    }
    writeFileSync(join(dir, file.path), file.bytes);
    files++;
    bytes += file.bytes.length;
  }
  return { files, bytes };
}

interface CorpusPart {
  dir: string;
  options: CorpusOptions;
}

/**
 * Writes the corpus under `dir` on `threads` worker threads (default: one per core), each its own
 * range of projects; returns how many files and bytes.
 */
export async function writeCorpus(dir: string, options: CorpusOptions): Promise<{ files: number; bytes: number }> {
  mkdirSync(dir, { recursive: true });
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), options.projects));
  const first = options.firstProject ?? 0;
  const parts: CorpusPart[] = [];
  for (let t = 0, start = first; t < threads; t++) {
    const count = Math.floor(options.projects / threads) + (t < options.projects % threads ? 1 : 0);
    parts.push({ dir, options: { ...options, firstProject: start, projects: count } });
    start += count;
  }
  if (threads === 1) return writeCorpusPart(dir, parts[0]!.options);
  const written = await Promise.all(
    parts.map(
      (part) =>
        new Promise<{ files: number; bytes: number }>((resolve, reject) => {
          const worker = startWorker(import.meta.url, './corpus.ts', { workerData: { corpusPart: part } });
          worker.once('message', resolve);
          worker.once('error', reject);
          worker.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`corpus worker exited ${code}`))));
        }),
    ),
  );
  return written.reduce((a, b) => ({ files: a.files + b.files, bytes: a.bytes + b.bytes }), { files: 0, bytes: 0 });
}

if (!isMainThread && (workerData as { corpusPart?: CorpusPart } | null)?.corpusPart) {
  const { dir, options } = (workerData as { corpusPart: CorpusPart }).corpusPart;
  parentPort!.postMessage(writeCorpusPart(dir, options));
}

if (isMainThread && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: string) => {
    const at = args.indexOf(name);
    return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback;
  };
  const dir = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]!.startsWith('--')));
  if (!dir) {
    console.error('usage: node --import tsx bench/corpus.ts DIR [--projects N] [--files M] [--layout flat|per-project] [--first K]');
    process.exit(2);
  }
  const layout = flag('--layout', 'flat');
  if (layout !== 'flat' && layout !== 'per-project') {
    console.error(`--layout is flat or per-project, got ${layout}`);
    process.exit(2);
  }
  const started = performance.now();
  const written = await writeCorpus(dir, {
    projects: Number(flag('--projects', '1000')),
    filesPerProject: Number(flag('--files', '10')),
    layout,
    firstProject: Number(flag('--first', '0')),
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(`wrote ${written.files} files (${(written.bytes / 1024 / 1024).toFixed(1)} MiB) to ${dir} in ${seconds.toFixed(2)} s (${Math.round(written.files / seconds)} files/s)`);
}
