import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import { DEFAULT_BATCH_FILES, DEFAULT_FILES_PER_TRANSACTION, type ImportProgress, type ImportReport } from '../server/catalogue/bulk-import.ts';
import { withServices, withStorageOptions } from './storage-options.ts';

interface ImportFlags {
  dataDir?: string;
  databaseUrl?: string;
  maxUploadBytes?: string;
  json?: boolean;
  jobs?: string;
  batchSize?: string;
  transactionSize?: string;
  nice?: string;
}

/** How far an import lowers its CPU priority by default: background work beside a serving index. */
const DEFAULT_NICE = 10;

/** A flag's whole-number value within [min, max], or undefined when the flag is absent. */
function wholeNumber(raw: string | undefined, flag: string, min: number, max?: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new CairnError('usage.invalid_argument', `${flag} is a whole number ${range}, got '${raw}'`);
  }
  return value;
}

const count = (n: number) => n.toLocaleString('en-US');

function progressLine(p: ImportProgress): string {
  const rate = p.elapsedSeconds > 0 ? Math.round(p.seen / p.elapsedSeconds) : 0;
  return `${count(p.seen)} files: ${count(p.imported)} imported, ${count(p.present)} present, ${count(p.refused)} refused (${count(rate)} files/s)`;
}

function reportJson(report: ImportReport): Record<string, unknown> {
  const files = report.imported + report.present.length + report.refused.length;
  return {
    imported: report.imported,
    present: report.present,
    refused: report.refused.map((r) => ({ path: r.path, filename: r.filename, code: r.code, message: r.message })),
    projects_created: report.projectsCreated,
    seconds: Number(report.elapsedSeconds.toFixed(3)),
    files_per_second: report.elapsedSeconds > 0 ? Math.round(files / report.elapsedSeconds) : null,
  };
}

/**
 * Lowers the priority of every thread of this process to `nice`, never raising one (a process
 * started lower stays lower). On Linux a priority belongs to a thread, and threads inherit their
 * creator's: lowering the main thread alone left V8's garbage-collection and compiler threads,
 * started with the process, at the server's priority.
 */
function lowerPriority(nice: number): void {
  let threads: number[] = [0];
  try {
    threads = readdirSync('/proc/self/task').map(Number);
  } catch {
    // No /proc: this thread only, and those started after it.
  }
  for (const thread of threads) {
    try {
      if (getPriority(thread) < nice) setPriority(thread, nice);
    } catch {
      // A platform without priorities, a sandbox refusing setpriority, or a thread already gone: the import runs as started.
    }
  }
}

/** `cairn admin import DIR…`: loads directories of distributions (docs/import.md). */
export function registerImportAdmin(admin: Command): void {
  withStorageOptions(
    admin
      .command('import <dir...>')
      .description('import directories of distributions (pypiserver, pip download), each file checked as an upload; refused files are reported and skipped')
      .option('--json', 'print the outcome as JSON')
      .option('--jobs <n>', 'worker threads reading and hashing files (default: one per core)')
      .option('--batch-size <n>', `files made durable by one flush to disk (default ${DEFAULT_BATCH_FILES})`)
      .option('--transaction-size <n>', `files per database transaction (default ${DEFAULT_FILES_PER_TRANSACTION})`)
      .option('--nice <n>', `CPU priority to lower the import to, 0 (as started) to 19 (default ${DEFAULT_NICE})`)
      .option('--max-upload-bytes <n>', 'largest accepted distribution (env CAIRN_MAX_UPLOAD_BYTES)'),
  ).action(async (directories: string[], options: ImportFlags) => {
    const jobs = wholeNumber(options.jobs, '--jobs', 1);
    const batchSize = wholeNumber(options.batchSize, '--batch-size', 1);
    const filesPerTransaction = wholeNumber(options.transactionSize, '--transaction-size', 1);
    const nice = wholeNumber(options.nice, '--nice', 0, 19) ?? DEFAULT_NICE;
    // A bulk import saturates every core (hashing workers, inserts): at equal priority a `cairn
    // serve` on the same machine waited up to 165 ms for a core. Lowered before the worker threads
    // start, which inherit it.
    if (nice > 0) lowerPriority(nice);
    const live = process.stderr.isTTY === true && !options.json;
    const report = await withServices(options, async (s) => {
      // What `cairn serve` brings up to date when it starts, first: on a database this command
      // creates, that marks the (empty) pages and TUF targets current in milliseconds, where the
      // first `serve` after the import would otherwise render and backfill the whole catalogue.
      await s.changes.renderStale();
      await s.tufTargets.backfill();
      return s.imports.importDirectories({
        directories,
        jobs,
        batchSize,
        filesPerTransaction,
        onProgress: live ? (p) => process.stderr.write(`\r${progressLine(p)}`) : undefined,
        onRefused: options.json
          ? undefined
          : (r) => process.stderr.write(`${live ? '\r\x1b[K' : ''}refused ${r.path} [${r.code}]: ${r.message}\n`),
      });
    });
    if (live) process.stderr.write('\r\x1b[K');
    if (options.json) {
      console.log(JSON.stringify(reportJson(report), null, 2));
    } else {
      const files = report.imported + report.present.length + report.refused.length;
      const rate = report.elapsedSeconds > 0 ? Math.round(files / report.elapsedSeconds) : 0;
      console.log(
        `imported ${count(report.imported)} files (${count(report.projectsCreated)} new projects), ` +
          `${count(report.present.length)} already present, ${count(report.refused.length)} refused; ` +
          `${count(files)} files in ${report.elapsedSeconds.toFixed(1)} s (${count(rate)} files/s)`,
      );
    }
    if (report.refused.length > 0) {
      throw new CairnError('import.files_refused', `${count(report.refused.length)} of ${count(report.imported + report.present.length + report.refused.length)} files were refused${options.json ? '' : ' (listed above)'}; the others were imported`);
    }
  });
}
