import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import type { Kysely } from 'kysely';
import { deflateSegment } from '../../formats/gzip-segments.ts';
import { statusServesFiles } from '../../formats/project-status.ts';
import { renderIndexHtmlEntry, renderProjectHtml, renderProjectJson, type SimpleProject } from '../../formats/simple-api.ts';
import type { DialectName } from '../storage/migrations.ts';
import type { Database, PageKind } from '../storage/schema.ts';
import type { IndexUrls } from './index-urls.ts';
import { buildProjectJson, chooseJsonApiRelease } from './json-api.ts';
import { loadProjectSnapshot, releaseInfoJson, releaseProvenanceStates, type ProjectSnapshot } from './project-snapshot.ts';

/**
 * Bumped when what the renderer writes changes, so stored pages of an older renderer are rendered
 * again at start-up (see CatalogueChanges.renderStale).
 */
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
    const snapshot = await loadProjectSnapshot(trx, projectId);
    if (!snapshot) throw new Error(`project ${projectId} vanished inside its own transaction`);
    const name = snapshot.project.normalized_name;
    const view = simpleProjectView(snapshot, this.urls);
    const html = await this.store(trx, name, 'simple-html', renderProjectHtml(view));
    const json = await this.store(trx, name, 'simple-json', renderProjectJson(view));
    await this.store(trx, name, 'json-api', await this.jsonApiDocument(trx, snapshot));
    return { normalizedName: name, simplePages: [html, json] };
  }

  /** `/pypi/<project>/json`, or null while the project has no release (PyPI answers 404 then). */
  private async jsonApiDocument(trx: Kysely<Database>, snapshot: ProjectSnapshot): Promise<string | null> {
    if (snapshot.releases.length === 0) return null;
    const release = chooseJsonApiRelease(snapshot);
    const states = releaseProvenanceStates(snapshot.releases, snapshot.files, snapshot.signersByFile);
    const document = buildProjectJson(snapshot, release, await releaseInfoJson(trx, release.id), this.urls, {
      withProvenance: new Set(snapshot.signersByFile.keys()),
      provenanceStates: states,
    });
    return JSON.stringify(document);
  }

  /**
   * Replaces one stored page. The version it replaces stays readable by digest for a while
   * (superseded_pages), so a TUF client whose metadata names it still gets its bytes.
   */
  private async store(trx: Kysely<Database>, name: string, kind: PageKind, text: string | null): Promise<RenderedPage> {
    if (text === null) {
      await trx.deleteFrom('rendered_pages').where('normalized_name', '=', name).where('kind', '=', kind).execute();
      return { kind, sha256: '', length: 0 };
    }
    const bytes = Buffer.from(text, 'utf8');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const now = this.clock().toISOString();
    if (kind !== 'json-api') {
      const previous = await trx
        .selectFrom('rendered_pages')
        .select(['sha256', 'length', 'gzip'])
        .where('normalized_name', '=', name)
        .where('kind', '=', kind)
        .executeTakeFirst();
      if (previous?.sha256 === sha256) return { kind, sha256, length: bytes.length };
      if (previous) {
        await trx
          .insertInto('superseded_pages')
          .values({ sha256: previous.sha256, normalized_name: name, kind, length: previous.length, gzip: previous.gzip, superseded_at: now })
          .onConflict((oc) => oc.column('sha256').doNothing())
          .execute();
      }
    }
    const row = { normalized_name: name, kind, sha256, length: bytes.length, gzip: await compress(bytes), rendered_at: now };
    await trx
      .insertInto('rendered_pages')
      .values(row)
      .onConflict((oc) => oc.columns(['normalized_name', 'kind']).doUpdateSet({ sha256: row.sha256, length: row.length, gzip: row.gzip, rendered_at: row.rendered_at }))
      .execute();
    return { kind, sha256, length: bytes.length };
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
