import { normalizeProjectName } from '../../formats/project-name.ts';
import {
  LEGACY_HTML,
  renderProjectHtml,
  renderProjectJson,
  SIMPLE_JSON,
  type SimpleFormat,
  type SimpleProject,
} from '../../formats/simple-api.ts';
import type { IndexService, ProjectListing } from '../catalogue/index-service.ts';

import type { IndexUrls } from './index-urls.ts';

export type ProjectPageResult =
  | { kind: 'not_found' }
  | { kind: 'redirect'; normalizedName: string }
  | { kind: 'page'; body: string; etag: string };

interface CachedPage {
  projectId: number;
  serial: number;
  /** When the serial was last confirmed against the database (monotonic ms). */
  checkedAt: number;
  bodies: Map<SimpleFormat, string>;
}

/**
 * How long a cached page is served without re-reading the project's serial. Changes made by this
 * process invalidate at once; another process sharing the database (an admin CLI yank, a second
 * server) is seen within this window — far shorter than the CDN caching PyPI's pages get.
 */
export const DEFAULT_PAGE_FRESHNESS_MS = 1000;

/** Answers which files (by id) carry provenance; supplied by the provenance layer. */
export type ProvenanceLookup = (fileIds: number[]) => Promise<Set<number>>;

/**
 * Per-project simple pages are derived data (DESIGN §7): rendered once per project serial and
 * served from memory until an upload or yank bumps the serial. The serial check is one indexed
 * query, so several processes sharing PostgreSQL stay coherent.
 */
export class SimplePageService {
  private readonly cache = new Map<string, CachedPage>();

  constructor(
    private readonly index: IndexService,
    private readonly urls: IndexUrls,
    private readonly provenanceLookup: ProvenanceLookup,
    private readonly maxCachedProjects = 5000,
    private readonly freshnessMs = DEFAULT_PAGE_FRESHNESS_MS,
  ) {}

  /** Drops cached pages after a change made in this process (one project, or all). */
  invalidate(projectName?: string): void {
    if (projectName === undefined) this.cache.clear();
    else this.cache.delete(normalizeProjectName(projectName));
  }

  async projectPage(requestedName: string, format: SimpleFormat): Promise<ProjectPageResult> {
    const normalized = normalizeProjectName(requestedName);
    if (normalized !== requestedName) return { kind: 'redirect', normalizedName: normalized };
    const now = performance.now();
    let cached = this.cache.get(normalized);
    if (!cached || now - cached.checkedAt >= this.freshnessMs) {
      const project = await this.index.findProject(normalized);
      if (!project) {
        this.cache.delete(normalized);
        return { kind: 'not_found' };
      }
      if (!cached || cached.serial !== project.serial || cached.projectId !== project.id) {
        cached = { projectId: project.id, serial: project.serial, checkedAt: now, bodies: new Map() };
        this.remember(normalized, cached);
      } else {
        cached.checkedAt = now;
      }
    }
    const etag = `"${cached.projectId}-${cached.serial}-${format === SIMPLE_JSON ? 'j' : format === LEGACY_HTML ? 'h' : 'v'}"`;
    let body = cached.bodies.get(format);
    if (body === undefined) {
      const project = await this.index.findProject(normalized);
      if (!project) return { kind: 'not_found' };
      const view = await this.projectView(await this.index.projectListing(project));
      body = format === SIMPLE_JSON ? renderProjectJson(view) : renderProjectHtml(view);
      cached.bodies.set(format, body);
    }
    return { kind: 'page', body, etag };
  }

  private remember(name: string, page: CachedPage): void {
    this.cache.delete(name);
    if (this.cache.size >= this.maxCachedProjects) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(name, page);
  }

  private async projectView(listing: ProjectListing): Promise<SimpleProject> {
    const releaseById = new Map(listing.releases.map((r) => [r.id, r]));
    const withProvenance = await this.provenanceLookup(listing.files.map((f) => f.id));
    return {
      name: listing.project.normalized_name,
      versions: listing.releases.map((r) => r.version),
      files: listing.files.map((f) => {
        const release = releaseById.get(f.release_id)!;
        return {
          filename: f.filename,
          url: this.urls.fileUrl(f.sha256, f.filename),
          sha256: f.sha256,
          requiresPython: f.requires_python,
          yanked: release.yanked ? (release.yanked_reason ?? '') : false,
          coreMetadataSha256: f.core_metadata_sha256,
          size: f.size,
          uploadTime: f.upload_time,
          provenanceUrl: withProvenance.has(f.id)
            ? this.urls.provenanceUrl(listing.project.normalized_name, release.version, f.filename)
            : null,
        };
      }),
    };
  }
}
