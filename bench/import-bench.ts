import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestDatabase, postgresAvailable } from '../test/support/postgres.ts';
import { writeCorpus } from './corpus.ts';

/**
 * `cairn admin import` on a synthetic corpus (bench/corpus.ts): files per second into an empty
 * index, on SQLite and on PostgreSQL, then the re-run that finds every file present. The CLI runs
 * as an operator runs it, in its own process; CPU time is that process's user + system time.
 *
 *   node --import tsx bench/import-bench.ts [--projects 2000] [--files 10] [--runs 3]
 */
const ROOT = new URL('../', import.meta.url).pathname;

export interface ImportRun {
  engine: 'sqlite' | 'postgres';
  kind: 'fresh' | 're-run';
  files: number;
  seconds: number;
  filesPerSecond: number;
  cpuSeconds: number;
  load: number;
}

interface CliOutcome {
  seconds: number;
  cpuSeconds: number;
  json: { imported: number; present: string[]; refused: unknown[]; seconds: number; files_per_second: number };
}

/** Runs the CLI under /usr/bin/time's portable format for the child's CPU time. */
function runImport(corpus: string, dataDir: string, databaseUrl: string): Promise<CliOutcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, join(ROOT, 'bin/cairn.mjs'), 'admin', 'import', corpus, '--data-dir', dataDir, '--database-url', databaseUrl, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`import exited ${code}: ${stderr}`));
        return;
      }
      const cpu = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve({
        seconds: (performance.now() - started) / 1000,
        cpuSeconds: cpu ? Number(cpu[1]) + Number(cpu[2]) : Number.NaN,
        json: JSON.parse(stdout) as CliOutcome['json'],
      });
    });
  });
}

export async function runImportBench(options: { projects?: number; files?: number; runs?: number } = {}): Promise<{ lines: string[]; runs: ImportRun[] }> {
  const projects = options.projects ?? Number(process.env.BENCH_IMPORT_PROJECTS ?? 2000);
  const filesPerProject = options.files ?? Number(process.env.BENCH_IMPORT_FILES ?? 10);
  const repeats = options.runs ?? Number(process.env.BENCH_IMPORT_RUNS ?? 3);
  const work = mkdtempSync(join(tmpdir(), 'cairn-import-bench-'));
  const runs: ImportRun[] = [];
  try {
    const corpus = join(work, 'corpus');
    const corpusStarted = performance.now();
    const written = await writeCorpus(corpus, { projects, filesPerProject, layout: 'per-project' });
    const corpusSeconds = (performance.now() - corpusStarted) / 1000;
    const engines: ('sqlite' | 'postgres')[] = (await postgresAvailable()) ? ['sqlite', 'postgres'] : ['sqlite'];
    for (const engine of engines) {
      for (let run = 0; run < repeats; run++) {
        const dataDir = mkdtempSync(join(work, 'data-'));
        const database = engine === 'postgres' ? await createTestDatabase() : null;
        const databaseUrl = database?.url ?? `sqlite:${join(dataDir, 'cairn.sqlite')}`;
        try {
          for (const kind of ['fresh', 're-run'] as const) {
            const load = loadavg()[0]!;
            const outcome = await runImport(corpus, dataDir, databaseUrl);
            const files = outcome.json.imported + outcome.json.present.length;
            runs.push({
              engine,
              kind,
              files,
              seconds: outcome.json.seconds,
              filesPerSecond: outcome.json.files_per_second,
              cpuSeconds: outcome.cpuSeconds,
              load,
            });
          }
        } finally {
          await database?.drop();
          // The data directory stays until the end: ext4 scans past recently deleted inodes when
          // it allocates new ones, so deleting 20,000 files would slow the next run's creates.
        }
      }
    }
    const lines = [
      `Corpus: ${written.files.toLocaleString('en-US')} files (${projects.toLocaleString('en-US')} projects × ${filesPerProject}, wheels and sdists, ${(written.bytes / 1024 / 1024).toFixed(1)} MiB, one directory per project), written by bench/corpus.ts in ${corpusSeconds.toFixed(1)} s (${Math.round(written.files / corpusSeconds).toLocaleString('en-US')} files/s).`,
      '',
      '| engine | import | files/s | seconds | CPU s (user+sys) | load average at start |',
      '|---|---|---|---|---|---|',
      ...runs.map(
        (r) =>
          `| ${r.engine} | ${r.kind} | ${r.filesPerSecond.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${r.cpuSeconds.toFixed(1)} | ${r.load.toFixed(1)} |`,
      ),
    ];
    return { lines, runs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const flag = (name: string) => {
    const at = process.argv.indexOf(name);
    return at >= 0 ? Number(process.argv[at + 1]) : undefined;
  };
  const { lines } = await runImportBench({ projects: flag('--projects'), files: flag('--files'), runs: flag('--runs') });
  console.log(lines.join('\n'));
}
