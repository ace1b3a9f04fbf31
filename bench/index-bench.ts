import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, fsyncSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import autocannon from 'autocannon';
import { loadServerConfig } from '../src/server/config.ts';
import { openServices } from '../src/server/composition.ts';
import { makeDistribution } from '../test/support/dist-factory.ts';
import { encodeMultipart, twineFields } from '../test/support/multipart.ts';

/**
 * Index benchmark (issue 2): a 10,000 × 5 corpus, simple pages under load next to a bare node:http
 * ceiling, the streamed root, and a 100 MiB upload next to hash-and-write of the same bytes. All
 * ratios are against baselines measured in this same run.
 */
const ROOT = new URL('../', import.meta.url).pathname;
const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 10_000);
const FILES_PER_PROJECT = 5;
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const UPLOAD_RUNS = 5;

export interface IndexBenchResult {
  lines: string[];
  ratios: { projectJson: number; projectHtml: number; upload: number; uploadFloorSha256: number; uploadFloorDigests: number };
}

async function buildCorpus(dataDir: string): Promise<void> {
  const services = await openServices(loadServerConfig({ dataDir }, {}));
  const now = new Date().toISOString();
  const metadata = (name: string, version: string) => `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: benchmark project\n`;
  await services.db.transaction().execute(async (trx) => {
    for (let start = 0; start < PROJECTS; start += 500) {
      const names = Array.from({ length: Math.min(500, PROJECTS - start) }, (_, i) => `bench-project-${start + i}`);
      const projects = await trx
        .insertInto('projects')
        .values(names.map((name) => ({ name, normalized_name: name, created_at: now, serial: 1 })))
        .returning(['id', 'name'])
        .execute();
      for (const project of projects) {
        const releases = await trx
          .insertInto('releases')
          .values(
            Array.from({ length: FILES_PER_PROJECT }, (_, v) => ({
              project_id: project.id,
              version: `1.${v}.0`,
              summary: 'benchmark project',
              requires_python: '>=3.8',
              info_json: '{}',
              yanked: 0,
              yanked_reason: null,
              created_at: now,
            })),
          )
          .returning(['id', 'version'])
          .execute();
        const rows = releases.map((release) => {
          const filename = `${project.name.replace(/-/g, '_')}-${release.version}-py3-none-any.whl`;
          const blob = Buffer.from(`blob of ${filename}`);
          const sha256 = createHash('sha256').update(blob).digest('hex');
          const path = join(dataDir, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
          mkdirSync(dirname(path), { recursive: true });
          writeFileSync(path, blob);
          const meta = metadata(project.name, release.version);
          return {
            project_id: project.id,
            release_id: release.id,
            filename,
            packagetype: 'bdist_wheel',
            python_version: 'py3',
            size: blob.length,
            sha256,
            md5: createHash('md5').update(blob).digest('hex'),
            blake2b_256: createHash('sha512').update(blob).digest('hex').slice(0, 64),
            requires_python: '>=3.8',
            core_metadata: meta,
            core_metadata_sha256: createHash('sha256').update(meta).digest('hex'),
            upload_time: now,
            uploaded_by_token_id: null,
          };
        });
        await trx.insertInto('files').values(rows).execute();
      }
    }
  });
  await services.close();
}

async function startIndex(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cairn.mjs'), 'serve', '--quiet', '--port', '0', '--data-dir', dataDir, '--max-upload-bytes', String(200 * 1024 * 1024)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`index exited (${code})`)));
  });
  return { child, url };
}

async function startFloorServer(mode: 'sha256' | 'digests'): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/receive-floor.ts'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { child, url };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function startBareServer(): Promise<{ child: ChildProcess; url: string }> {
  const script = `const b=Buffer.alloc(5120,'x');require('node:http').createServer((q,r)=>{r.writeHead(200,{'content-type':'application/json','content-length':b.length});r.end(b)}).listen(0,'127.0.0.1',function(){console.log('http://127.0.0.1:'+this.address().port)})`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return { child, url };
}

async function load(url: string, connections: number, paths: string[], headers: Record<string, string> = {}) {
  let i = 0;
  const result = await autocannon({
    url,
    connections,
    duration: DURATION,
    headers,
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`load run had ${result.non2xx} non-2xx and ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

async function timeToLastByte(url: string): Promise<{ ms: number; bytes: number }> {
  const start = performance.now();
  const body = await (await fetch(url)).arrayBuffer();
  return { ms: performance.now() - start, bytes: body.byteLength };
}

function hashAndWrite(bytes: Buffer, path: string): number {
  const start = performance.now();
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  for (let offset = 0; offset < bytes.length; offset += 64 * 1024) {
    const chunk = bytes.subarray(offset, offset + 64 * 1024);
    hash.update(chunk);
    writeFileSync(fd, chunk);
  }
  fsyncSync(fd);
  closeSync(fd);
  hash.digest('hex');
  return performance.now() - start;
}

async function timeUpload(url: string, token: string, body: Buffer, contentType: string): Promise<number> {
  const start = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = request(`${url}/legacy/`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, 'Content-Length': body.length, Authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}` },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`upload answered ${res.statusCode} ${res.statusMessage}`))));
    });
    req.on('error', reject);
    for (let offset = 0; offset < body.length; offset += 256 * 1024) req.write(body.subarray(offset, offset + 256 * 1024));
    req.end();
  });
  return performance.now() - start;
}

export async function runIndexBench(): Promise<IndexBenchResult> {
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
  const lines: string[] = [];
  const log = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  try {
    const dataDir = join(work, 'data');
    const t = performance.now();
    await buildCorpus(dataDir);
    log(`corpus: ${PROJECTS} projects × ${FILES_PER_PROJECT} files built in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const index = await startIndex(dataDir);
    const bare = await startBareServer();
    try {
      const sample = Array.from({ length: 1000 }, (_, i) => `/simple/bench-project-${(i * 7919) % PROJECTS}/`);
      // Warm the page cache as steady-state traffic would.
      for (const path of sample) await (await fetch(`${index.url}${path}`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).arrayBuffer();
      const jsonPage = Buffer.byteLength(await (await fetch(`${index.url}${sample[0]}`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).text());

      const results: Record<string, { rps: number; p99: number }> = {};
      for (const connections of [32, 1]) {
        results[`bare-${connections}`] = await load(bare.url, connections, ['/']);
        results[`json-${connections}`] = await load(index.url, connections, sample, { Accept: 'application/vnd.pypi.simple.v1+json' });
        results[`html-${connections}`] = await load(index.url, connections, sample, { Accept: 'text/html' });
      }
      log(`| target | connections | requests/s | p99 ms | vs bare node:http |`);
      log(`|---|---|---|---|---|`);
      for (const connections of [32, 1]) {
        const bareRps = results[`bare-${connections}`]!.rps;
        for (const kind of ['bare', 'json', 'html']) {
          const r = results[`${kind}-${connections}`]!;
          const label = kind === 'bare' ? 'bare node:http, 5 KB body' : `/simple/<project>/ ${kind.toUpperCase()} (${jsonPage} B JSON)`;
          log(`| ${label} | ${connections} | ${r.rps.toFixed(0)} | ${r.p99} | ${(r.rps / bareRps).toFixed(2)} |`);
        }
      }
      const rootHtml = await timeToLastByte(`${index.url}/simple/`);
      const rootJson = await timeToLastByte(`${index.url}/simple/?format=application/vnd.pypi.simple.v1%2Bjson`);
      log(`/simple/ root, time to last byte: HTML ${rootHtml.ms.toFixed(0)} ms (${rootHtml.bytes} B), JSON ${rootJson.ms.toFixed(0)} ms (${rootJson.bytes} B)`);

      // Upload: 100 MiB wheel against sha256 + write (+ fsync) of the same bytes, each the median
      // of UPLOAD_RUNS. Two floors show what loopback HTTP alone costs: a bare node:http receiver
      // doing the baseline's work, and one computing the three digests an index must store.
      const services = await openServices(loadServerConfig({ dataDir }, {}));
      const { token } = await services.tokens.create({ scope: 'new_projects', now: new Date() });
      await services.close();
      const uploads: number[] = [];
      const baselines: number[] = [];
      const floors: Record<'sha256' | 'digests', number[]> = { sha256: [], digests: [] };
      const floorServers = { sha256: await startFloorServer('sha256'), digests: await startFloorServer('digests') };
      let mib = 0;
      try {
        // Run 0 warms every path up (JIT, page cache, worker start) and is not counted.
        for (let run = 0; run <= UPLOAD_RUNS; run++) {
          const version = `1.${run}`;
          const dist = makeDistribution(work, { name: 'bench-upload', version, kind: 'wheel', randomBytes: 100 * 1024 * 1024 });
          const bytes = readFileSync(dist.path);
          mib = bytes.length / 1024 / 1024;
          const { body, contentType } = encodeMultipart([
            ...twineFields({ name: 'bench-upload', version, filetype: 'bdist_wheel', sha256: createHash('sha256').update(bytes).digest('hex') }),
            { name: 'content', filename: dist.filename, data: bytes },
          ]);
          const baseline = hashAndWrite(bytes, join(work, 'hw'));
          const floor = { sha256: await timeUpload(floorServers.sha256.url, token, body, contentType), digests: await timeUpload(floorServers.digests.url, token, body, contentType) };
          const upload = await timeUpload(index.url, token, body, contentType);
          rmSync(dist.path);
          if (run === 0) continue;
          baselines.push(baseline);
          floors.sha256.push(floor.sha256);
          floors.digests.push(floor.digests);
          uploads.push(upload);
        }
      } finally {
        floorServers.sha256.child.kill();
        floorServers.digests.child.kill();
      }
      const baselineMs = median(baselines);
      const uploadMs = median(uploads);
      const rate = (ms: number) => `${ms.toFixed(0)} ms (${(mib / (ms / 1000)).toFixed(0)} MiB/s)`;
      log('');
      log(`Upload of a ${mib.toFixed(0)} MiB wheel, median of ${UPLOAD_RUNS} runs each after one warm-up run:`);
      log('');
      log('| work | time | vs sha256+write+fsync |');
      log('|---|---|---|');
      log(`| sha256 + write + fsync, in process (the baseline) | ${rate(baselineMs)} | 1.00 |`);
      log(`| floor: bare node:http receiver, sha256 + write + fsync | ${rate(median(floors.sha256))} | ${(baselineMs / median(floors.sha256)).toFixed(2)} |`);
      log(`| floor: bare node:http receiver, sha256 + md5 + blake2b-256 + write + fsync | ${rate(median(floors.digests))} | ${(baselineMs / median(floors.digests)).toFixed(2)} |`);
      log(`| cairn POST /legacy/ (multipart, three digests with md5 and blake2b-256 on worker threads, metadata, fsync, commit) | ${rate(uploadMs)} | ${(baselineMs / uploadMs).toFixed(2)} |`);
      log('');
      log(`(runs: cairn ${uploads.map((ms) => ms.toFixed(0)).join(', ')} ms; baseline ${baselines.map((ms) => ms.toFixed(0)).join(', ')} ms)`);
      return {
        lines,
        ratios: {
          projectJson: results['json-32']!.rps / results['bare-32']!.rps,
          projectHtml: results['html-32']!.rps / results['bare-32']!.rps,
          upload: baselineMs / uploadMs,
          uploadFloorSha256: baselineMs / median(floors.sha256),
          uploadFloorDigests: baselineMs / median(floors.digests),
        },
      };
    } finally {
      index.child.kill();
      bare.child.kill();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
