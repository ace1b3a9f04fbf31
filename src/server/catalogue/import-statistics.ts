import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../storage/migrations.ts';
import type { Database } from '../storage/schema.ts';

/** The tables an import grows: its own rows, and the pages, journal entries and TUF targets they cause. */
const GROWN_TABLES = ['projects', 'releases', 'files', 'burned_filenames', 'rendered_pages', 'root_chunks', 'page_changes', 'tuf_targets', 'tuf_dirty_slots'] as const;

/** No statistics before this many files: a plan over a few thousand rows is cheap whatever it is. */
export const ANALYZE_MIN_FILES = 5_000;
/** Statistics again once the files table has grown by this share since they were taken. */
export const ANALYZE_GROWTH = 0.5;

/**
 * Whether the planner's statistics are due, given the files imported since they were last taken
 * and the size of the files table then: geometric, so a 1M-file import into an empty index
 * analyses ~15 times, and an import of a few files into a large index once, at its end.
 */
export function statisticsDue(importedSince: number, filesAtLastAnalyze: number): boolean {
  return importedSince >= Math.max(ANALYZE_MIN_FILES, ANALYZE_GROWTH * filesAtLastAnalyze);
}

/**
 * Keeps PostgreSQL's planner statistics in step with a bulk import. An import grows tables from
 * nothing to millions of rows in minutes, faster than autovacuum's analyse threshold follows (and
 * it may be off). Without statistics the planner estimated that rendering a transaction's 200
 * projects would read more files than the table held, and scanned all of it with parallel workers
 * that took every core: on the 2-core benchmark machine each transaction cost a scan of the whole
 * files table, and the serving index beside the import lost its CPU to them (docs/import.md). SQLite plans these
 * lookups by their indexes without statistics: nothing to do there.
 */
export class ImportStatistics {
  private importedSince = 0;

  private constructor(
    private readonly db: Kysely<Database>,
    private filesAtLastAnalyze: number,
  ) {}

  /** Null on SQLite. The files table's size comes from its last statistics (0 if it has none). */
  static async start(db: Kysely<Database>, dialect: DialectName): Promise<ImportStatistics | null> {
    if (dialect !== 'postgres') return null;
    const { rows } = await sql<{ reltuples: number }>`select reltuples::float8 as reltuples from pg_class where oid = 'files'::regclass`.execute(db);
    return new ImportStatistics(db, Math.max(0, rows[0]?.reltuples ?? 0));
  }

  /** After each committed transaction: analyses when the import has grown the tables enough. */
  async filesAdded(count: number): Promise<void> {
    this.importedSince += count;
    if (statisticsDue(this.importedSince, this.filesAtLastAnalyze)) await this.analyze();
  }

  /** At the end of an import that added anything: the serving index plans with what is there now. */
  async finish(): Promise<void> {
    if (this.importedSince > 0) await this.analyze();
  }

  private async analyze(): Promise<void> {
    const grown = this.filesAtLastAnalyze + this.importedSince;
    await sql`analyze ${sql.join(GROWN_TABLES.map((table) => sql.table(table)))}`.execute(this.db);
    this.filesAtLastAnalyze = grown;
    this.importedSince = 0;
  }
}
