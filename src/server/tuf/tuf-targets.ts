import type { Kysely } from 'kysely';
import { slotOf } from '../../tuf/hashed-bins.ts';
import { coreMetadataTarget, distributionTarget, distributionTargetPath, type TargetEntry } from '../../tuf/metadata.ts';
import type { AddedFile, CatalogueListener, RemovedFile } from '../pages/catalogue-changes.ts';
import { simplePageTargetPath, type RenderedProject } from '../pages/page-renderer.ts';
import type { Database } from '../storage/schema.ts';

/** Rows per statement when many targets are written at once (an import, a backfill). */
const BATCH = 500;
const BACKFILL_KEY = 'tuf.targets';
const BACKFILL_VERSION = '1';

export function targetsOfFile(file: AddedFile): TargetEntry[] {
  return [
    distributionTarget({ filename: file.filename, sha256: file.sha256, size: file.size, blake2b256: file.blake2b256 }),
    coreMetadataTarget({ filename: file.filename, sha256: file.sha256, metadataSha256: file.coreMetadataSha256, metadataLength: file.coreMetadataLength }),
  ];
}

/**
 * Keeps `tuf_targets` equal to what the index serves, inside the transactions that change it, and
 * marks the slots whose bins must be signed again. Signing happens later, off the request path
 * (TufRepository.refresh), and only for marked bins.
 */
export class TufTargets implements CatalogueListener {
  constructor(private readonly db: Kysely<Database>) {}

  async filesAdded(trx: Kysely<Database>, files: readonly AddedFile[]): Promise<void> {
    await this.put(trx, files.flatMap(targetsOfFile));
  }

  async filesRemoved(trx: Kysely<Database>, files: readonly RemovedFile[]): Promise<void> {
    const paths = files.flatMap((f) => {
      const path = distributionTargetPath(f.sha256, f.filename);
      return [path, `${path}.metadata`];
    });
    for (let i = 0; i < paths.length; i += BATCH) {
      const batch = paths.slice(i, i + BATCH);
      await trx.deleteFrom('tuf_targets').where('path', 'in', batch).execute();
      await this.markDirty(trx, batch.map(slotOf));
    }
  }

  async pagesRendered(trx: Kysely<Database>, rendered: readonly RenderedProject[]): Promise<void> {
    await this.put(
      trx,
      rendered.flatMap((project) =>
        project.simplePages.map((page) => ({
          path: simplePageTargetPath(project.normalizedName, page.kind as 'simple-html' | 'simple-json'),
          length: page.length,
          sha256: page.sha256,
        })),
      ),
    );
  }

  /** Inserts or replaces targets and marks their slots. */
  async put(trx: Kysely<Database>, targets: readonly TargetEntry[]): Promise<void> {
    for (let i = 0; i < targets.length; i += BATCH) {
      const rows = targets.slice(i, i + BATCH).map((t) => ({
        path: t.path,
        slot: slotOf(t.path),
        length: t.length,
        sha256: t.sha256,
        custom: t.custom ? JSON.stringify(t.custom) : null,
      }));
      await trx
        .insertInto('tuf_targets')
        .values(rows)
        .onConflict((oc) =>
          oc.column('path').doUpdateSet((eb) => ({ length: eb.ref('excluded.length'), sha256: eb.ref('excluded.sha256'), custom: eb.ref('excluded.custom') })),
        )
        .execute();
      await this.markDirty(trx, rows.map((r) => r.slot));
    }
  }

  /**
   * Bumps each slot's generation: a refresh deletes only the generation it read, so a change
   * committed while it signs stays marked for the next one.
   */
  private async markDirty(trx: Kysely<Database>, slots: readonly number[]): Promise<void> {
    const unique = [...new Set(slots)].sort((a, b) => a - b);
    for (let i = 0; i < unique.length; i += BATCH) {
      await trx
        .insertInto('tuf_dirty_slots')
        .values(unique.slice(i, i + BATCH).map((slot) => ({ slot, generation: 1 })))
        .onConflict((oc) => oc.column('slot').doUpdateSet((eb) => ({ generation: eb('tuf_dirty_slots.generation', '+', 1) })))
        .execute();
    }
  }

  /**
   * Fills `tuf_targets` from the catalogue once (an index created before TUF lived in the
   * database): every file, its metadata and every stored simple page.
   */
  async backfill(): Promise<number> {
    const done = await this.db.selectFrom('derived_state').select('value').where('key', '=', BACKFILL_KEY).executeTakeFirst();
    if (done?.value === BACKFILL_VERSION) return 0;
    let count = 0;
    let after = 0;
    for (;;) {
      const rows = await this.db
        .selectFrom('files')
        .select(['id', 'filename', 'sha256', 'size', 'blake2b_256', 'core_metadata_sha256', 'core_metadata'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(BATCH)
        .execute();
      if (rows.length === 0) break;
      const targets = rows.flatMap((r) =>
        targetsOfFile({
          id: r.id,
          filename: r.filename,
          sha256: r.sha256,
          size: Number(r.size),
          blake2b256: r.blake2b_256,
          coreMetadataSha256: r.core_metadata_sha256,
          coreMetadataLength: Buffer.byteLength(r.core_metadata, 'utf8'),
        }),
      );
      await this.db.transaction().execute((trx) => this.put(trx, targets));
      count += rows.length;
      after = rows[rows.length - 1]!.id;
    }
    let afterProject = 0;
    for (;;) {
      const projects = await this.db.selectFrom('projects').select(['id', 'normalized_name']).where('id', '>', afterProject).orderBy('id').limit(BATCH).execute();
      if (projects.length === 0) break;
      const pages = await this.db
        .selectFrom('rendered_pages')
        .select(['normalized_name', 'kind', 'sha256', 'length'])
        .where('kind', 'in', ['simple-html', 'simple-json'])
        .where('normalized_name', 'in', projects.map((p) => p.normalized_name))
        .execute();
      await this.db.transaction().execute((trx) =>
        this.put(
          trx,
          pages.map((p) => ({ path: simplePageTargetPath(p.normalized_name, p.kind as 'simple-html' | 'simple-json'), length: Number(p.length), sha256: p.sha256 })),
        ),
      );
      afterProject = projects[projects.length - 1]!.id;
    }
    await this.db
      .insertInto('derived_state')
      .values({ key: BACKFILL_KEY, value: BACKFILL_VERSION })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: BACKFILL_VERSION }))
      .execute();
    return count;
  }
}
