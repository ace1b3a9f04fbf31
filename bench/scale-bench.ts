import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { corpusProjectName, corpusWheel, writeCorpus } from './corpus.ts';
import { encodeMultipart, twineFields } from '../test/support/multipart.ts';
import { createTestDatabase } from '../test/support/postgres.ts';
import { IDLE_WORKER_MS } from '../src/server/tuf/background-tuf.ts';

/**
 * The scale benchmark (issue 10): for 10k, 100k and 1M files (projects × 5), on SQLite and on
 * PostgreSQL, a real `cairn serve` process and a real `cairn admin import`, with load from wrk in
 * another process over random projects of the whole corpus, against bare node:http serving a
 * body of the same size in the same run. Also the root's time to last byte, small-upload
 * latency, TUF refresh times, the longest event-loop stall the server saw (prom-client's
 * perf_hooks monitor, scraped every second) beside the longest an idle Node process saw in the
 * same phase (the machine's share: on two cores an import keeps every process waiting at times),
 * and the server's memory.
 *
 *   BENCH_SIZES=10000,100000,1000000 BENCH_ENGINES=sqlite,postgres npm run bench -- scale
 *   BENCH_SCALE_ROWS=rows.jsonl npm run bench -- scale    (report rows printed by earlier runs)
 */
const ROOT = new URL('../', import.meta.url).pathname;
const CAIRN = join(ROOT, 'bin', 'cairn.mjs');
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const ENGINES = (process.env.BENCH_ENGINES ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];
const WORK = process.env.BENCH_WORK ?? join(tmpdir(), 'cairn-scale');
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const FILES_PER_PROJECT = 5;
/**
 * On a shared machine, a file whose presence asks other heavy jobs to hold off; the benchmark
 * holds it while it measures and first waits for the CPUs to go idle, so that a figure is not
 * someone else's compile.
 */
const QUIET_LOCK = process.env.BENCH_QUIET_LOCK;
const UPLOADS = 60;
const JSON_TYPE = 'application/vnd.pypi.simple.v1+json';

interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
}

interface PageFigure {
  cairn: LoadResult;
  baseline: LoadResult;
  bodyBytes: number;
  ratio: number;
}

interface RootFigure {
  bytes: number;
  cairnMs: number;
  baselineMs: number;
  ratio: number;
}

export interface ScaleRow {
  engine: string;
  files: number;
  projects: number;
  importSeconds: number;
  importFilesPerSecond: number;
  json: PageFigure;
  html: PageFigure;
  rootGzip: RootFigure;
  rootIdentity: RootFigure;
  uploadP50Ms: number;
  uploadP99Ms: number;
  tufFirstBuildSeconds: number;
  tufNoChangeMs: number;
  tufAfterUploadMs: number;
  stallMs: Record<string, number>;
  /** The same, seen by an idle Node process on the same machine in the same phases (bench/stall-probe.mjs). */
  probeStallMs?: Record<string, number>;
  rssMiB: number;
  peakRssMiB: number;
  /** After the run and IDLE_WORKER_MS + 5 s of quiet. */
  idleRssMiB?: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(url: string, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      if ((await rawGet(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${seconds} s`);
    await sleep(100);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const median = (values: number[]) => percentile(values, 50);
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

function cpuTimes(): { idle: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3]! + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

/** Runs a measurement with the machine quiet: takes BENCH_QUIET_LOCK and waits (≤ 5 min) for ≥ 85% idle CPUs. */
async function quietly<T>(measure: () => Promise<T>): Promise<T> {
  if (!QUIET_LOCK) return measure();
  writeFileSync(QUIET_LOCK, String(process.pid));
  try {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const before = cpuTimes();
      await sleep(1000);
      const after = cpuTimes();
      const idle = (after.idle - before.idle) / Math.max(1, after.total - before.total);
      if (idle >= 0.85) break;
      if (Date.now() > deadline) {
        console.log(`quiet: the machine stayed busy (${Math.round(idle * 100)}% idle); measuring anyway`);
        break;
      }
    }
    return await measure();
  } finally {
    try {
      unlinkSync(QUIET_LOCK);
    } catch {
      // already gone
    }
  }
}

/** wrk from a separate process: -t2 -c32, random projects, pip's headers. */
async function wrk(url: string, namesFile: string, accept: string, seconds: number): Promise<LoadResult> {
  const result = await run('wrk', ['-t2', '-c32', `-d${seconds}s`, '--latency', '-s', join(ROOT, 'bench', 'random-pages.lua'), url], {
    env: { PAGES_FILE: namesFile, PAGES_ACCEPT: accept },
  });
  if (result.code !== 0) throw new Error(`wrk failed: ${result.stderr}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(result.stdout);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(result.stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(result.stdout);
  if (non2xx) throw new Error(`wrk saw ${non2xx[1]} error answers from ${url}`);
  const unit = { us: 0.001, ms: 1, s: 1000 }[(p99?.[2] ?? 'ms') as 'us' | 'ms' | 's'];
  return { requestsPerSecond: Math.round(Number(rps?.[1] ?? 0)), p99Ms: round(Number(p99?.[1] ?? 0) * unit) };
}

async function startBare(args: string[]): Promise<{ url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'bare-server.mjs'), String(port), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => child.once('message', () => resolve()));
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** prom-client's event-loop delay maximum since the previous scrape, read every second, by phase. */
class StallWatch {
  private phase = 'start';
  readonly maxMs: Record<string, number> = {};
  /** The longest stall of an idle Node process in each phase: how long the machine kept any process from running. */
  readonly probeMaxMs: Record<string, number> = {};
  /** The server's resident memory (prom-client's process metric): the last and the largest seen. */
  rssMiB = 0;
  peakRssMiB = 0;
  private timer: NodeJS.Timeout | null = null;
  private probe: ChildProcess | null = null;

  private readonly started = performance.now();

  /** `timeline`: a file to which each scrape's stall is appended, with the time since the server started and the phase (and each of the probe's seconds, marked `probe`). */
  constructor(
    private readonly metricsUrl: string,
    private readonly timeline: string | null = null,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.scrape(), 1000);
    this.probe = spawn(process.execPath, [join(ROOT, 'bench', 'stall-probe.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pending = '';
    this.probe.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        this.probeMaxMs[this.phase] = Math.max(this.probeMaxMs[this.phase] ?? 0, Number(line));
        // Beside the server's readings, to tell a stall of the server's from one every process saw.
        if (this.timeline) appendFileSync(this.timeline, `${Math.round(performance.now() - this.started)} ${this.phase} probe ${line}\n`);
      }
    });
  }

  enter(phase: string): void {
    this.phase = phase;
  }

  async scrape(): Promise<string> {
    try {
      const text = (await rawGet(this.metricsUrl)).body.toString('utf8');
      const max = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
      if (max) {
        const ms = round(Number(max[1]) * 1000, 1);
        this.maxMs[this.phase] = Math.max(this.maxMs[this.phase] ?? 0, ms);
        if (this.timeline) appendFileSync(this.timeline, `${Math.round(performance.now() - this.started)} ${this.phase} ${ms}\n`);
      }
      const rss = /^process_resident_memory_bytes (\S+)$/m.exec(text);
      if (rss) {
        this.rssMiB = Math.round(Number(rss[1]) / 1024 / 1024);
        this.peakRssMiB = Math.max(this.peakRssMiB, this.rssMiB);
      }
      return text;
    } catch {
      return '';
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.probe?.kill();
  }
}

function metricValue(text: string, name: string, labels: string): number {
  const escaped = `${name}{${labels}}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}


async function corpus(files: number): Promise<string> {
  const dir = join(WORK, `corpus-${files}`);
  const done = join(dir, '.complete');
  if (existsSync(done)) return dir;
  rmSync(dir, { recursive: true, force: true });
  const started = performance.now();
  const written = await writeCorpus(dir, { projects: files / FILES_PER_PROJECT, filesPerProject: FILES_PER_PROJECT, layout: 'per-project' });
  writeFileSync(done, '');
  console.log(`corpus of ${written.files} files (${Math.round(written.bytes / 1024 / 1024)} MiB) written in ${round((performance.now() - started) / 1000, 1)} s`);
  return dir;
}

async function database(engine: 'sqlite' | 'postgres', dataDir: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (engine === 'sqlite') return { url: `sqlite:${join(dataDir, 'cairn.sqlite')}`, drop: async () => undefined };
  return createTestDatabase();
}

async function postgresMaintenance(url: string): Promise<number> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = performance.now();
    await client.query('VACUUM (ANALYZE)');
    await client.query('CHECKPOINT');
    return performance.now() - started;
  } finally {
    await client.end();
  }
}

async function uploadWheel(indexUrl: string, token: string, project: string): Promise<number> {
  const { filename, bytes } = corpusWheel(project, '1.0.0');
  const { createHash } = await import('node:crypto');
  const body = encodeMultipart([
    ...twineFields({ name: project, version: '1.0.0', filetype: 'bdist_wheel', sha256: createHash('sha256').update(bytes).digest('hex') }),
    { name: 'content', filename, data: bytes },
  ]);
  const started = performance.now();
  const response = await fetch(`${indexUrl}/legacy/`, {
    method: 'POST',
    headers: { 'Content-Type': body.contentType, Authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}` },
    body: body.body,
  });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`upload of ${filename} answered ${response.status}`);
  return performance.now() - started;
}

/** Rounds of cairn then baseline, alternating, so that noise from the rest of the machine falls on both. */
const PAGE_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function pageFigure(url: string, namesFile: string, accept: string, sampleNames: string[]): Promise<PageFigure> {
  // The body the baseline serves: the mean size of what cairn answers pip for these pages.
  const sizes: number[] = [];
  for (const name of sampleNames) sizes.push((await rawGet(`${url}/simple/${name}/`, { Accept: accept, 'Accept-Encoding': 'gzip, deflate' })).body.length);
  const bodyBytes = Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length);
  await wrk(url, namesFile, accept, Math.max(3, LOAD_SECONDS / 2)); // warm-up: caches, JIT
  const bare = await startBare(['size', String(bodyBytes)]);
  try {
    await wrk(bare.url, namesFile, accept, 3);
    // The best round of each: a round slowed by another process says nothing about either server.
    let cairn: LoadResult | null = null;
    let baseline: LoadResult | null = null;
    for (let round = 0; round < PAGE_ROUNDS; round++) {
      const c = await quietly(() => wrk(url, namesFile, accept, LOAD_SECONDS));
      const b = await quietly(() => wrk(bare.url, namesFile, accept, LOAD_SECONDS));
      if (!cairn || c.requestsPerSecond > cairn.requestsPerSecond) cairn = c;
      if (!baseline || b.requestsPerSecond > baseline.requestsPerSecond) baseline = b;
    }
    return { cairn: cairn!, baseline: baseline!, bodyBytes, ratio: round(cairn!.requestsPerSecond / baseline!.requestsPerSecond) };
  } finally {
    bare.stop();
  }
}

/**
 * Sequential GETs of the root per side. Cairn's and the baseline's alternate, one each in turn, so
 * that whatever else the machine does in those few hundred milliseconds falls on both: nine of
 * cairn's in a row, then nine of the baseline's, lasted ~60 ms each at 100k projects, and one
 * spell of other work could slow most of one side (a ratio of 2.41 once, 0.94–1.06 by hand right after).
 */
const ROOT_SAMPLES = 31;

async function rootFigure(url: string, gzip: boolean, scratch: string): Promise<RootFigure> {
  const headers: Record<string, string> = gzip ? { 'Accept-Encoding': 'gzip' } : {};
  const first = await rawGet(`${url}/simple/`, headers);
  const file = join(scratch, `root-${gzip ? 'gz' : 'plain'}`);
  writeFileSync(file, first.body);
  const bare = await startBare(['file', file, ...(gzip ? ['gzip'] : [])]);
  try {
    await rawGet(`${bare.url}/`, headers);
    const cairnTimes: number[] = [];
    const baseTimes: number[] = [];
    for (let i = 0; i < ROOT_SAMPLES; i++) {
      cairnTimes.push((await rawGet(`${url}/simple/`, headers)).ms);
      baseTimes.push((await rawGet(`${bare.url}/`, headers)).ms);
    }
    const cairnMs = round(median(cairnTimes), 1);
    const baselineMs = round(median(baseTimes), 1);
    return { bytes: first.body.length, cairnMs, baselineMs, ratio: round(cairnMs / baselineMs) };
  } finally {
    bare.stop();
  }
}

async function benchOne(engine: 'sqlite' | 'postgres', files: number): Promise<ScaleRow> {
  const projects = files / FILES_PER_PROJECT;
  const corpusDir = await corpus(files);
  const dataDir = join(WORK, `data-${engine}-${files}`);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const db = await database(engine, dataDir);
  const storage = ['--data-dir', dataDir, '--database-url', db.url];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // BENCH_TRACE_GC=DIR: the server's garbage collections (V8's --trace-gc) into DIR/gc-<engine>-<files>.log,
  // beside the stall timeline, to tell a collection from the server's own work.
  const traceDir = process.env.BENCH_TRACE_GC;
  const gcLog = traceDir ? openSync(join(traceDir, `gc-${engine}-${files}.log`), 'w') : 'ignore';
  const server: ChildProcess = spawn(process.execPath, [...(traceDir ? ['--trace-gc'] : []), CAIRN, 'serve', '--host', '127.0.0.1', '--port', String(port), '--quiet', ...storage], {
    stdio: ['ignore', gcLog, 'inherit'],
  });
  const stalls = new StallWatch(`${url}/metrics`, traceDir ? join(traceDir, `stalls-${engine}-${files}.log`) : null);
  try {
    await waitFor(`${url}/healthz`, 60);
    stalls.start();

    // Import while the server runs: it must keep serving, and follow the journal.
    stalls.enter('import');
    const importStarted = performance.now();
    const imported = await run(process.execPath, [CAIRN, 'admin', 'import', corpusDir, ...storage]);
    const importSeconds = (performance.now() - importStarted) / 1000;
    if (imported.code !== 0) throw new Error(`import failed (${imported.code}): ${imported.stderr.slice(-2000)}`);
    console.log(`${engine} ${files}: imported in ${round(importSeconds, 1)} s`);
    if (engine === 'postgres') {
      // After a bulk load PostgreSQL's autovacuum vacuums and analyzes the new rows for minutes, on
      // the same two cores as the server and wrk: done here, and timed, so that it does not fall
      // into the page rounds (it took a quarter off cairn's figures at 10k and 100k).
      const maintenance = await postgresMaintenance(db.url);
      console.log(`${engine} ${files}: VACUUM ANALYZE and CHECKPOINT after the import took ${round(maintenance / 1000, 1)} s`);
    }

    // The first timestamp builds every bin, on the worker thread.
    stalls.enter('tuf-first-build');
    // A build longer than CAIRN_TUF_WAIT_MS (30 s) answers 503 tuf.not_ready while it goes on: ask
    // again each second until it is published, and time the whole wait.
    const firstBuildStarted = performance.now();
    for (let failures = 0; ; ) {
      const firstBuild = await rawGet(`${url}/tuf/timestamp.json`).catch((error: unknown) => {
        // A server that died refuses at once: a few attempts, not forever.
        if (++failures >= 5) throw error;
        console.log(`${engine} ${files}: timestamp.json during the first TUF build: ${String(error)}; asking again`);
        return null;
      });
      if (firstBuild?.status === 503) {
        await sleep(1000);
        continue;
      }
      if (firstBuild === null) continue;
      if (firstBuild.status !== 200) throw new Error(`timestamp.json answered ${firstBuild.status}`);
      break;
    }
    const tufFirstBuildSeconds = round((performance.now() - firstBuildStarted) / 1000, 1);

    // The server reads no pages ahead during a bulk import; it warms its cache once the import has
    // passed (page-store.ts). The page rounds measure a server past that: wait until the cache
    // stops growing, and say how long that took after the import.
    const cacheBytes = async () => Number(/^cairn_page_cache_bytes (\S+)$/m.exec(await stalls.scrape())?.[1] ?? 0);
    let cached = await cacheBytes();
    for (let steady = 0, waited = 0; steady < 3 && waited < 180; waited++) {
      await sleep(1000);
      const now = await cacheBytes();
      steady = now === cached ? steady + 1 : 0;
      cached = now;
    }
    console.log(`${engine} ${files}: page cache at ${Math.round(cached / 2 ** 20)} MiB, steady ${round((performance.now() - importStarted) / 1000 - importSeconds, 1)} s after the import`);

    const names = Array.from({ length: projects }, (_, i) => corpusProjectName(i));
    const namesFile = join(dataDir, 'names.txt');
    writeFileSync(namesFile, `${names.join('\n')}\n`);
    const sample = Array.from({ length: 200 }, () => names[Math.floor(Math.random() * names.length)]!);
    stalls.enter('page-load');
    const json = await pageFigure(url, namesFile, JSON_TYPE, sample);
    const html = await pageFigure(url, namesFile, 'text/html', sample);
    console.log(`${engine} ${files}: pages JSON ${json.ratio}, HTML ${html.ratio}`);

    stalls.enter('root');
    const rootGzip = await quietly(() => rootFigure(url, true, dataDir));
    const rootIdentity = await quietly(() => rootFigure(url, false, dataDir));

    stalls.enter('uploads');
    const token = (await run(process.execPath, [CAIRN, 'admin', 'token', 'create', '--new-projects', ...storage])).stdout.trim();
    const uploadMs: number[] = [];
    await quietly(async () => {
      for (let i = 0; i < UPLOADS; i++) uploadMs.push(await uploadWheel(url, token, `scale-upload-${files}-${i}`));
    });

    stalls.enter('tuf-refresh');
    await sleep(1500); // the refresh after the last upload
    await rawGet(`${url}/tuf/timestamp.json`);
    let metrics = await stalls.scrape();
    const noChangeBefore = [metricValue(metrics, 'cairn_tuf_refresh_seconds_sum', 'published="false"'), metricValue(metrics, 'cairn_tuf_refresh_seconds_count', 'published="false"')];
    for (let i = 0; i < 5; i++) await rawGet(`${url}/tuf/timestamp.json`);
    metrics = await stalls.scrape();
    const tufNoChangeMs =
      ((metricValue(metrics, 'cairn_tuf_refresh_seconds_sum', 'published="false"') - noChangeBefore[0]!) /
        Math.max(1, metricValue(metrics, 'cairn_tuf_refresh_seconds_count', 'published="false"') - noChangeBefore[1]!)) *
      1000;
    const afterBefore = [metricValue(metrics, 'cairn_tuf_refresh_seconds_sum', 'published="true"'), metricValue(metrics, 'cairn_tuf_refresh_seconds_count', 'published="true"')];
    await uploadWheel(url, token, `scale-upload-${files}-tuf`);
    await rawGet(`${url}/tuf/timestamp.json`);
    metrics = await stalls.scrape();
    const refreshes = metricValue(metrics, 'cairn_tuf_refresh_seconds_count', 'published="true"') - afterBefore[1]!;
    const tufAfterUploadMs = ((metricValue(metrics, 'cairn_tuf_refresh_seconds_sum', 'published="true"') - afterBefore[0]!) / Math.max(1, refreshes)) * 1000;

    await sleep(1100);
    await stalls.scrape();
    const memory = { rssMiB: stalls.rssMiB, peakRssMiB: stalls.peakRssMiB };
    // Memory once the server has been quiet for a while (its TUF worker retired: IDLE_WORKER_MS).
    stalls.enter('idle');
    await sleep(IDLE_WORKER_MS + 5000);
    await stalls.scrape();
    const idleRssMiB = stalls.rssMiB;
    return {
      engine,
      files,
      projects,
      importSeconds: round(importSeconds, 1),
      importFilesPerSecond: Math.round(files / importSeconds),
      json,
      html,
      rootGzip,
      rootIdentity,
      uploadP50Ms: round(median(uploadMs), 1),
      uploadP99Ms: round(percentile(uploadMs, 99), 1),
      tufFirstBuildSeconds,
      tufNoChangeMs: round(tufNoChangeMs, 2),
      tufAfterUploadMs: round(tufAfterUploadMs, 1),
      stallMs: { ...stalls.maxMs },
      probeStallMs: { ...stalls.probeMaxMs },
      ...memory,
      idleRssMiB,
    };
  } finally {
    stalls.stop();
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await db.drop();
    if (!process.env.BENCH_KEEP) rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runScaleBench(): Promise<{ lines: string[]; rows: ScaleRow[] }> {
  const rows: ScaleRow[] = [];
  // Rows of earlier runs (the JSON lines they printed), to report runs made size by size together.
  const saved = process.env.BENCH_SCALE_ROWS;
  if (saved) {
    for (const line of readFileSync(saved, 'utf8').split('\n')) if (line.startsWith('{')) rows.push(JSON.parse(line) as ScaleRow);
  }
  mkdirSync(WORK, { recursive: true });
  for (const files of saved ? [] : SIZES) {
    for (const engine of ENGINES) {
      const row = await benchOne(engine, files);
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
  const stall = (r: ScaleRow) => Math.max(...Object.values(r.stallMs));
  const lines = [
    `Corpus: projects × ${FILES_PER_PROJECT} files (wheels and sdists with real core metadata, \`bench/corpus.ts\`), imported by \`cairn admin import\` into a running \`cairn serve\` (a child process). Load: \`wrk -t2 -c32 -d${LOAD_SECONDS}s\` in another process, each request a random project of the whole corpus with pip's headers (Accept-Encoding: gzip), after a warm-up run; the baseline is bare node:http answering a body of the mean size cairn answered, in the same run: ${PAGE_ROUNDS} rounds alternating cairn and the baseline, the best round of each (with BENCH_QUIET_LOCK, each round waits for idle CPUs first).`,
    '',
    '| engine | files | projects | import files/s | JSON page req/s (baseline) | ratio | HTML page req/s (baseline) | ratio | page p99 ms | root gzip TTLB ms (baseline) | ratio | root plain TTLB ms (baseline) | ratio |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.engine} | ${r.files} | ${r.projects} | ${r.importFilesPerSecond} | ${r.json.cairn.requestsPerSecond} (${r.json.baseline.requestsPerSecond}, ${r.json.bodyBytes} B) | **${r.json.ratio}** | ${r.html.cairn.requestsPerSecond} (${r.html.baseline.requestsPerSecond}, ${r.html.bodyBytes} B) | **${r.html.ratio}** | ${Math.max(r.json.cairn.p99Ms, r.html.cairn.p99Ms)} | ${r.rootGzip.cairnMs} (${r.rootGzip.baselineMs}, ${r.rootGzip.bytes} B) | **${r.rootGzip.ratio}** | ${r.rootIdentity.cairnMs} (${r.rootIdentity.baselineMs}, ${r.rootIdentity.bytes} B) | **${r.rootIdentity.ratio}** |`,
    ),
    '',
    `| engine | files | upload p50 / p99 ms | TUF first build s | TUF refresh, nothing changed, ms | TUF refresh after one upload, ms | longest event-loop stall ms (by phase; an idle Node process in the same phase) | server RSS MiB (peak; after ${Math.round(IDLE_WORKER_MS / 1000) + 5} s quiet) |`,
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.engine} | ${r.files} | ${r.uploadP50Ms} / ${r.uploadP99Ms} | ${r.tufFirstBuildSeconds} | ${r.tufNoChangeMs} | ${r.tufAfterUploadMs} | **${stall(r)}** (${Object.entries(r.stallMs).map(([k, v]) => `${k} ${v}${r.probeStallMs?.[k] === undefined ? '' : ` (${r.probeStallMs[k]})`}`).join(', ')}) | ${r.rssMiB} (${r.peakRssMiB}${r.idleRssMiB === undefined ? '' : `; ${r.idleRssMiB} idle`}) |`,
    ),
  ];
  return { lines, rows };
}
