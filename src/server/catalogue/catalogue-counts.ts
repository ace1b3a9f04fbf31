import type { Kysely } from 'kysely';
import type { CountedTable, Database } from '../storage/schema.ts';

export type CatalogueCounts = Record<CountedTable, number>;

/**
 * The catalogue's size from the counters triggers keep (migration 0012): one read of four rows,
 * where a count(*) would walk whole indexes. The one reader for `/metrics` and the home page.
 */
export async function readCatalogueCounts(db: Kysely<Database>): Promise<CatalogueCounts> {
  const rows = await db.selectFrom('catalogue_counts').select(['table_name', 'n']).execute();
  const counts: CatalogueCounts = { projects: 0, releases: 0, files: 0, attestations: 0 };
  for (const row of rows) counts[row.table_name] = Number(row.n);
  return counts;
}
