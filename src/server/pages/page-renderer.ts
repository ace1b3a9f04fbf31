import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import type { Kysely } from 'kysely';
import { deflateSegment } from '../../formats/gzip-segments.ts';
import { statusServesFiles } from '../../formats/project-status.ts';
import { renderIndexHtmlEntry, renderProjectHtml, renderProjectJson, type SimpleProject } from '../../formats/simple-api.ts';
import type { DialectName } from '../storage/migrations.ts';
import type { Database, PageKind, ReleaseListing } from '../storage/schema.ts';
import type { IndexUrls } from './index-urls.ts';
import { buildProjectJson, chooseJsonApiRelease } from './json-api.ts';
import { loadProjectSnapshots, releaseInfoJsons, releaseProvenanceStates, type ProjectSnapshot } from './project-snapshot.ts';

/**
 * Bumped when what the renderer writes changes, so stored pages of an older renderer are rendered
 * again at start-up (see CatalogueChanges.renderStale).
 */
// 2: provenance links and states count first-party attestations only; the JSON API lists third
// parties apart (issue 11); PEP 792 project status in the pages (issue 15).
export const RENDERER_VERSION = 2;

/** Projects per `/simple/` root chunk: a new project re-renders one chunk of at most this many. */
export const ROOT_CHUNK_SIZE = 1000;

export function rootChunkOf(projectId: number): number {
  return Math.floor(projectId / ROOT_CHUNK_SIZE);
}

export interface RenderedPage {
  kind: PageKind;
  sha256: string;
  length: number;
}

export interface RenderedProject {
  normalizedName: string;
  /** The simple pages (HTML and JSON): TUF targets (PEP 458). */
  simplePages: RenderedPage[];
}

/** The simple pages of a project are TUF targets at these paths (PEP 458 "simple/PROJECT/index.html"). */
export function simplePageTargetPath(normalizedName: string, kind: 'simple-html' | 'simple-json'): string {
  return `simple/${normalizedName}/index.${kind === 'simple-html' ? 'html' : 'json'}`;
}

/**
 * What `/simple/<project>/` lists, from a snapshot: files in upload order, each with its provenance
 * URL, and the PEP 792 status. A quarantined project's page lists no version and no file (PEP 792:
 * nothing of it is offered for download), but still answers, so installers learn why.
 */
export function simpleProjectView(snapshot: ProjectSnapshot, urls: IndexUrls): SimpleProject {
  const releaseById = new Map(snapshot.releases.map((r) => [r.id, r]));
  const name = snapshot.project.normalized_name;
  const status = { status: snapshot.project.status, reason: snapshot.project.status_reason };
  if (!statusServesFiles(status.status)) return { name, versions: [], files: [], status };
  return {
    name,
    status,
    versions: snapshot.releases.map((r) => r.version),
    files: snapshot.files.map((f) => {
      const release = releaseById.get(f.release_id)!;
      return {
        filename: f.filename,
        url: urls.fileUrl(f.sha256, f.filename),
        sha256: f.sha256,
        requiresPython: f.requires_python,
        yanked: release.yanked ? (release.yanked_reason ?? '') : false,
        coreMetadataSha256: f.core_metadata_sha256,
        size: f.size,
        uploadTime: f.upload_time,
        provenanceUrl: snapshot.signersByFile.has(f.id) ? urls.provenanceUrl(name, release.version, f.filename) : null,
      };
    }),
  };
}

const gzipAsync = promisify(gzip);
/** Above this, compression runs on libuv's thread pool instead of stalling the event loop. */
const SYNC_GZIP_LIMIT = 64 * 1024;

/** Under both engines' limits on bound parameters (a page row binds six). */
const ROWS_PER_STATEMENT = 200;
const NAMES_PER_STATEMENT = 500;

interface PageText {
  name: string;
  kind: PageKind;
  /** Null: the page is not served (a project without releases has no JSON API document). */
  text: string | null;
}

function compress(bytes: Buffer): Buffer | Promise<Buffer> {
  return bytes.length <= SYNC_GZIP_LIMIT ? gzipSync(bytes) : gzipAsync(bytes);
}

/**
 * Renders a project's pages (simple HTML, simple JSON, the JSON API) and the `/simple/` root
 * chunks, inside the transaction that changed them, and stores them compressed (DESIGN §7).
 */
export class PageRenderer {
  constructor(
    private readonly urls: IndexUrls,
    private readonly dialect: DialectName,
    private readonly clock: () => Date,
  ) {}

  /** Renders and stores every page of the project; the project must exist in `trx`. */
  async renderProject(trx: Kysely<Database>, projectId: number): Promise<RenderedProject> {
    const [rendered] = await this.renderProjects(trx, [projectId]);
    return rendered!;
  }

  /**
   * Renders and stores every page of each project (distinct ids, all existing in `trx`), in the
   * order given. A few statements per group of projects, whatever the group's size.
   */
  async renderProjects(trx: Kysely<Database>, projectIds: readonly number[]): Promise<RenderedProject[]> {
    const snapshots = await loadProjectSnapshots(trx, projectIds);
    const chosen = new Map<number, ReleaseListing>();
    for (const id of projectIds) {
      const snapshot = snapshots.get(id);
      if (!snapshot) throw new Error(`project ${id} vanished inside its own transaction`);
      if (snapshot.releases.length > 0) chosen.set(id, chooseJsonApiRelease(snapshot));
    }
    const infoJsons = await releaseInfoJsons(trx, [...chosen.values()].map((release) => release.id));
    const pages: PageText[] = [];
    for (const id of projectIds) {
      const snapshot = snapshots.get(id)!;
      const name = snapshot.project.normalized_name;
      const view = simpleProjectView(snapshot, this.urls);
      pages.push({ name, kind: 'simple-html', text: renderProjectHtml(view) });
      pages.push({ name, kind: 'simple-json', text: renderProjectJson(view) });
      pages.push({ name, kind: 'json-api', text: this.jsonApiDocument(snapshot, chosen.get(id), infoJsons) });
    }
    const stored = await this.store(trx, pages);
    return projectIds.map((id, i) => ({ normalizedName: snapshots.get(id)!.project.normalized_name, simplePages: [stored[i * 3]!, stored[i * 3 + 1]!] }));
  }

  /** `/pypi/<project>/json`, or null while the project has no release (PyPI answers 404 then). */
  private jsonApiDocument(snapshot: ProjectSnapshot, release: ReleaseListing | undefined, infoJsons: ReadonlyMap<number, string>): string | null {
    if (!release) return null;
    const states = releaseProvenanceStates(snapshot.releases, snapshot.files, snapshot.signersByFile);
    const info = infoJsons.get(release.id);
    if (info === undefined) throw new Error(`release ${release.id} vanished inside its own transaction`);
    const document = buildProjectJson(snapshot, release, info, this.urls, {
      withProvenance: new Set(snapshot.signersByFile.keys()),
      thirdParty: snapshot.thirdPartyByFile,
      provenanceStates: states,
    });
    return JSON.stringify(document);
  }

  /**
   * Replaces stored pages (distinct name and kind), a few statements for all of them. The version
   * a simple page replaces stays readable by digest for a while (superseded_pages), so a TUF
   * client whose metadata names it still gets its bytes.
   */
  private async store(trx: Kysely<Database>, pages: readonly PageText[]): Promise<RenderedPage[]> {
    const now = this.clock().toISOString();
    const key = (name: string, kind: PageKind) => `${kind}\u0000${name}`;
    const simpleNames = [...new Set(pages.filter((p) => p.text !== null && p.kind !== 'json-api').map((p) => p.name))];
    const previous = new Map<string, { sha256: string; length: number; gzip: Buffer }>();
    for (let i = 0; i < simpleNames.length; i += NAMES_PER_STATEMENT) {
      const rows = await trx
        .selectFrom('rendered_pages')
        .select(['normalized_name', 'kind', 'sha256', 'length', 'gzip'])
        .where('normalized_name', 'in', simpleNames.slice(i, i + NAMES_PER_STATEMENT))
        .where('kind', 'in', ['simple-html', 'simple-json'])
        .execute();
      for (const row of rows) previous.set(key(row.normalized_name, row.kind), row);
    }

    const results: RenderedPage[] = [];
    const deleted = new Map<PageKind, string[]>();
    const superseded: { sha256: string; normalized_name: string; kind: PageKind; length: number; gzip: Buffer; superseded_at: string }[] = [];
    const changed: { name: string; kind: PageKind; bytes: Buffer; sha256: string }[] = [];
    for (const { name, kind, text } of pages) {
      if (text === null) {
        deleted.set(kind, [...(deleted.get(kind) ?? []), name]);
        results.push({ kind, sha256: '', length: 0 });
        continue;
      }
      const bytes = Buffer.from(text, 'utf8');
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      results.push({ kind, sha256, length: bytes.length });
      const before = previous.get(key(name, kind));
      if (before?.sha256 === sha256) continue;
      if (before) superseded.push({ sha256: before.sha256, normalized_name: name, kind, length: before.length, gzip: before.gzip, superseded_at: now });
      changed.push({ name, kind, bytes, sha256 });
    }

    for (const [kind, names] of deleted) {
      for (let i = 0; i < names.length; i += NAMES_PER_STATEMENT) {
        await trx.deleteFrom('rendered_pages').where('kind', '=', kind).where('normalized_name', 'in', names.slice(i, i + NAMES_PER_STATEMENT)).execute();
      }
    }
    for (let i = 0; i < superseded.length; i += ROWS_PER_STATEMENT) {
      await trx
        .insertInto('superseded_pages')
        .values(superseded.slice(i, i + ROWS_PER_STATEMENT))
        .onConflict((oc) => oc.column('sha256').doNothing())
        .execute();
    }
    for (let i = 0; i < changed.length; i += ROWS_PER_STATEMENT) {
      const part = changed.slice(i, i + ROWS_PER_STATEMENT);
      const gzips = await Promise.all(part.map((page) => compress(page.bytes)));
      const rows = part.map((page, j) => ({ normalized_name: page.name, kind: page.kind, sha256: page.sha256, length: page.bytes.length, gzip: gzips[j]!, rendered_at: now }));
      await trx
        .insertInto('rendered_pages')
        .values(rows)
        .onConflict((oc) =>
          oc.columns(['normalized_name', 'kind']).doUpdateSet((eb) => ({
            sha256: eb.ref('excluded.sha256'),
            length: eb.ref('excluded.length'),
            gzip: eb.ref('excluded.gzip'),
            rendered_at: eb.ref('excluded.rendered_at'),
          })),
        )
        .execute();
    }
    return results;
  }

  /**
   * Renders one chunk of the `/simple/` root: the projects whose ids fall in it, in id order, as
   * HTML entries and as PEP 691 JSON entries, each a deflate segment.
   */
  async renderRootChunk(trx: Kysely<Database>, chunk: number): Promise<void> {
    const now = this.clock().toISOString();
    // Two transactions adding projects to one chunk must not both render it from what they saw
    // before the other committed: the chunk row is locked first (PostgreSQL; SQLite has one writer).
    await trx
      .insertInto('root_chunks')
      .values({ chunk, projects: 0, html_length: 0, html_crc32: 0, html_deflate: Buffer.alloc(0), json_length: 0, json_crc32: 0, json_deflate: Buffer.alloc(0), sha256: '', rendered_at: now })
      .onConflict((oc) => oc.column('chunk').doNothing())
      .execute();
    if (this.dialect === 'postgres') await trx.selectFrom('root_chunks').select('chunk').where('chunk', '=', chunk).forUpdate().execute();
    const projects = await trx
      .selectFrom('projects')
      .select(['name', 'normalized_name'])
      .where('id', '>=', chunk * ROOT_CHUNK_SIZE)
      .where('id', '<', (chunk + 1) * ROOT_CHUNK_SIZE)
      // PEP 792: a quarantined project is hidden from the index's list of projects.
      .where('status', '!=', 'quarantined')
      .orderBy('id')
      .execute();
    const htmlText = projects.map((p) => renderIndexHtmlEntry(p.name, p.normalized_name)).join('');
    const jsonText = projects.map((p) => JSON.stringify({ name: p.name })).join(',');
    const html = deflateSegment(htmlText);
    const json = deflateSegment(jsonText);
    const sha256 = createHash('sha256').update(htmlText).update('\0').update(jsonText).digest('hex');
    await trx
      .updateTable('root_chunks')
      .set({
        projects: projects.length,
        html_length: html.length,
        html_crc32: html.crc32,
        html_deflate: html.deflate,
        json_length: json.length,
        json_crc32: json.crc32,
        json_deflate: json.deflate,
        sha256,
        rendered_at: now,
      })
      .where('chunk', '=', chunk)
      .execute();
  }
}
