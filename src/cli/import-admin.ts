import type { Command } from 'commander';
import { CairnError } from '../errors.ts';
import type { ImportProgress, ImportReport } from '../server/catalogue/bulk-import.ts';
import { withServices, withStorageOptions } from './storage-options.ts';

interface ImportFlags {
  dataDir?: string;
  databaseUrl?: string;
  maxUploadBytes?: string;
  json?: boolean;
  jobs?: string;
  batchSize?: string;
}

function positiveInteger(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new CairnError('usage.invalid_argument', `${flag} is a whole number of at least 1, got '${raw}'`);
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

/** `cairn admin import DIR…`: loads directories of distributions (docs/import.md). */
export function registerImportAdmin(admin: Command): void {
  withStorageOptions(
    admin
      .command('import <dir...>')
      .description('import directories of distributions (pypiserver, pip download), each file checked as an upload; refused files are reported and skipped')
      .option('--json', 'print the outcome as JSON')
      .option('--jobs <n>', 'worker threads reading and hashing files (default: one per core)')
      .option('--batch-size <n>', 'files per transaction (default 1000)')
      .option('--max-upload-bytes <n>', 'largest accepted distribution (env CAIRN_MAX_UPLOAD_BYTES)'),
  ).action(async (directories: string[], options: ImportFlags) => {
    const jobs = positiveInteger(options.jobs, '--jobs');
    const batchSize = positiveInteger(options.batchSize, '--batch-size');
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
