import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, fsyncSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServerConfig } from '../src/server/config.ts';
import { openServices } from '../src/server/composition.ts';
import { makeDistribution } from '../test/support/dist-factory.ts';
import { encodeMultipart, twineFields } from '../test/support/multipart.ts';

/**
 * Upload benchmark (issue 2): a 100 MiB upload next to hash-and-write of the same bytes, with two
 * bare node:http floors, all measured in this same run. Reads at scale are the scale benchmark's.
 */
const ROOT = new URL('../', import.meta.url).pathname;
const UPLOAD_RUNS = 5;

export interface IndexBenchResult {
  lines: string[];
  ratios: { upload: number; uploadFloorSha256: number; uploadFloorDigests: number };
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
    const index = await startIndex(dataDir);
    try {
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
          upload: baselineMs / uploadMs,
          uploadFloorSha256: baselineMs / median(floors.sha256),
          uploadFloorDigests: baselineMs / median(floors.digests),
        },
      };
    } finally {
      index.child.kill();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
