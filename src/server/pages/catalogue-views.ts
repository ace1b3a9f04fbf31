import { sql, type Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { normalizeVersion } from '../../formats/pep440.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import type { AttestationFacts } from '../../formats/provenance-object.ts';
import type { AttestationSignerSummary, ProvenanceState } from '../../formats/provenance-state.ts';
import type { Database, ProjectRow, ReleaseListing, ReleaseRow } from '../storage/schema.ts';
import { readCatalogueCounts } from '../catalogue/catalogue-counts.ts';
import type { IndexUrls } from './index-urls.ts';
import { buildProjectJson, chooseJsonApiRelease, latestRelease } from './json-api.ts';
import {
  attestationSignersOfProject,
  attestationSignersOfProjects,
  loadProjectSnapshot,
  parseJsonObject,
  RELEASE_LISTING_COLUMNS,
  releaseInfoJson,
  releaseProvenanceStates,
  sortByVersion,
} from './project-snapshot.ts';

/**
 * The reads behind the web UI. Every page costs a constant number of queries whatever the
 * project's size (no query per release or per file), so a project with hundreds of releases
 * renders as fast as one with a single release, apart from the size of the rows themselves.
 */

export type { ReleaseListing };

// ---------------------------------------------------------------------------------------------
// Home

export interface RecentRelease {
  name: string;
  normalizedName: string;
  version: string;
  summary: string | null;
  createdAt: string;
  yanked: boolean;
  provenance: ProvenanceState;
  /** OIDC issuers of the attestations bound to its files (the UI marks the dev trust domain's). */
  signerIssuers: string[];
}

export interface HomePageData {
  counts: { projects: number; releases: number; files: number };
  recent: RecentRelease[];
}

export interface NewProject {
  name: string;
  normalizedName: string;
  createdAt: string;
  /** Summary of its first release, if it has one yet. */
  summary: string | null;
}

// ---------------------------------------------------------------------------------------------
// Search

export interface SearchHit {
  name: string;
  normalizedName: string;
  version: string | null;
  summary: string | null;
}

export interface SearchResults {
  query: string;
  page: number;
  perPage: number;
  total: number;
  hits: SearchHit[];
}

export const MAX_QUERY_CHARS = 100;
const MAX_QUERY_TERMS = 8;

function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

// ---------------------------------------------------------------------------------------------
// Project page

export interface ReleaseHistoryEntry extends ReleaseListing {
  fileCount: number;
  provenance: ProvenanceState;
  /** OIDC issuers of the attestations bound to its files (the UI marks the dev trust domain's). */
  signerIssuers: string[];
}

export interface ProjectPageData {
  project: ProjectRow;
  /** Newest first, as a reader scans a history. */
  releases: ReleaseHistoryEntry[];
  latest: ReleaseHistoryEntry | null;
  /** The JSON API `info` object of the latest release (core metadata). */
  info: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Release page

export interface ReleaseFileAttestation {
  id: number;
  kind: 'build' | 'publish' | 'other';
  predicateType: string;
  facts: AttestationFacts;
  publisher: Record<string, unknown> | null;
  submittedBeforeUpload: boolean;
  /** False for a third party's attestation, shown apart ("also attested by"). */
  firstParty: boolean;
  boundAt: string;
  /** The statement's parameters (SLSA `buildDefinition.externalParameters`), if it has any. */
  parameters: unknown;
}

export interface ReleaseFile {
  id: number;
  filename: string;
  packagetype: string;
  pythonVersion: string;
  size: number;
  sha256: string;
  uploadTime: string;
  requiresPython: string | null;
  attestations: ReleaseFileAttestation[];
}

export interface ReleasePageData {
  project: ProjectRow;
  release: ReleaseRow;
  info: Record<string, unknown>;
  latestVersion: string | null;
  /** Newest first. */
  versions: { version: string; yanked: boolean }[];
  files: ReleaseFile[];
  provenance: ProvenanceState;
}

/** The DSSE payload of a stored PEP 740 attestation, decoded (it was verified before it was stored). */
function statementParameters(rawJson: string): unknown {
  try {
    const raw = JSON.parse(rawJson) as { envelope?: { statement?: string } };
    const statement = raw.envelope?.statement;
    if (typeof statement !== 'string') return null;
    const decoded = JSON.parse(Buffer.from(statement, 'base64').toString('utf8')) as {
      predicate?: { buildDefinition?: { externalParameters?: unknown } };
    };
    return decoded.predicate?.buildDefinition?.externalParameters ?? null;
  } catch {
    return null;
  }
}

/** The distinct signer issuers of each release's files, by release id. */
function signerIssuersByRelease(files: readonly { id: number; release_id: number }[], signersByFile: ReadonlyMap<number, { issuer: string }[]>): Map<number, string[]> {
  const out = new Map<number, Set<string>>();
  for (const f of files) {
    for (const signer of signersByFile.get(f.id) ?? []) {
      const set = out.get(f.release_id) ?? new Set<string>();
      set.add(signer.issuer);
      out.set(f.release_id, set);
    }
  }
  return new Map([...out].map(([id, set]) => [id, [...set]]));
}

/** The reads behind the web UI, the feeds and the JSON API's provenance states. */
export class CatalogueViews {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly urls: IndexUrls,
  ) {}

  /**
   * Every page is read in one snapshot: a repeatable-read, read-only transaction on PostgreSQL
   * (under read committed, a release committed between two of a page's queries is listed by one
   * and missing from the other: a 500 while rendering); SQLite's transactions are snapshots.
   */
  private readSnapshot<T>(read: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(read);
  }

  /**
   * `/pypi/<project>/<version>/json`, read in one snapshot of the project: a repeatable-read
   * transaction on PostgreSQL (read committed would let a release committed between two
   * statements show files of a release it did not list); SQLite's transactions are snapshots.
   * The project-level document is rendered on write; per-version ones are asked for rarely.
   */
  async releaseJsonDocument(name: string, version: string): Promise<Record<string, unknown>> {
    return this.readSnapshot(async (trx) => {
      const project = await trx.selectFrom('projects').select('id').where('normalized_name', '=', normalizeProjectName(name)).executeTakeFirst();
      const snapshot = project ? await loadProjectSnapshot(trx, project.id) : undefined;
      if (!snapshot) throw new CairnError('project.not_found', `no project named '${name}'`);
      const release = chooseJsonApiRelease(snapshot, version);
      return buildProjectJson(snapshot, release, await releaseInfoJson(trx, release.id), this.urls, {
        perVersion: true,
        withProvenance: new Set(snapshot.signersByFile.keys()),
        thirdParty: snapshot.thirdPartyByFile,
        provenanceStates: releaseProvenanceStates(snapshot.releases, snapshot.files, snapshot.signersByFile),
      });
    });
  }

  /** Provenance state of every release of a project, in at most two queries (never the attestation bodies). */
  private async projectProvenanceStates(
    db: Kysely<Database>,
    projectId: number,
    releasesOldestFirst: readonly Pick<ReleaseRow, 'id' | 'version'>[],
    knownFiles?: readonly { id: number; release_id: number }[],
  ): Promise<Map<number, ProvenanceState>> {
    const [files, signers] = await Promise.all([
      knownFiles ?? db.selectFrom('files').select(['id', 'release_id']).where('project_id', '=', projectId).execute(),
      attestationSignersOfProject(db, projectId),
    ]);
    return releaseProvenanceStates(releasesOldestFirst, files, signers);
  }

  private async releaseListings(db: Kysely<Database>, projectId: number): Promise<ReleaseListing[]> {
    const rows = await db.selectFrom('releases').select(RELEASE_LISTING_COLUMNS).where('project_id', '=', projectId).orderBy('id').execute();
    return sortByVersion(rows);
  }

  /** The newest releases across the index, newest first (home page, `/rss/updates.xml`). */
  async recentReleases(limit: number): Promise<RecentRelease[]> {
    return this.readSnapshot((db) => this.recentReleasesIn(db, limit));
  }

  private async recentReleasesIn(db: Kysely<Database>, limit: number): Promise<RecentRelease[]> {
    // Release ids grow with time, and the primary key orders them without a sort.
    const rows = await db
      .selectFrom('releases')
      .innerJoin('projects', 'projects.id', 'releases.project_id')
      .select(['releases.id', 'releases.project_id', 'projects.name', 'projects.normalized_name', 'releases.version', 'releases.summary', 'releases.created_at', 'releases.yanked'])
      .orderBy('releases.id', 'desc')
      .limit(limit)
      .execute();
    // A release's state depends on its project's earlier releases: three queries for all the
    // projects listed (at most `limit`), whatever their number of releases.
    const projectIds = [...new Set(rows.map((r) => r.project_id))];
    const [releases, files, signers] =
      projectIds.length === 0
        ? [[], [], new Map<number, AttestationSignerSummary[]>()]
        : await Promise.all([
            db.selectFrom('releases').select(['id', 'project_id', 'version']).where('project_id', 'in', projectIds).orderBy('id').execute(),
            db.selectFrom('files').select(['id', 'release_id', 'project_id']).where('project_id', 'in', projectIds).execute(),
            attestationSignersOfProjects(db, projectIds),
          ]);
    const states = new Map<number, ProvenanceState>();
    for (const projectId of projectIds) {
      const own = sortByVersion(releases.filter((r) => r.project_id === projectId));
      for (const [id, state] of releaseProvenanceStates(own, files.filter((f) => f.project_id === projectId), signers)) states.set(id, state);
    }
    const issuers = signerIssuersByRelease(files, signers);
    return rows.map((r) => ({
      name: r.name,
      normalizedName: r.normalized_name,
      version: r.version,
      summary: r.summary,
      createdAt: r.created_at,
      yanked: r.yanked === 1,
      provenance: states.get(r.id)!,
      signerIssuers: issuers.get(r.id) ?? [],
    }));
  }

  async homePageData(limit = 12): Promise<HomePageData> {
    return this.readSnapshot(async (db) => {
      const [counts, recent] = await Promise.all([readCatalogueCounts(db), this.recentReleasesIn(db, limit)]);
      return { counts: { projects: counts.projects, releases: counts.releases, files: counts.files }, recent };
    });
  }

  /** The newest projects, newest first (`/rss/packages.xml`), in two queries. */
  async newestProjects(limit: number): Promise<NewProject[]> {
    return this.readSnapshot(async (db) => {
      const projects = await db.selectFrom('projects').select(['id', 'name', 'normalized_name', 'created_at']).orderBy('id', 'desc').limit(limit).execute();
      const firstSummary = new Map<number, string | null>();
      if (projects.length > 0) {
        const releases = await db
          .selectFrom('releases')
          .select(['project_id', 'summary'])
          .where('project_id', 'in', projects.map((p) => p.id))
          .orderBy('id')
          .execute();
        for (const r of releases) if (!firstSummary.has(r.project_id)) firstSummary.set(r.project_id, r.summary);
      }
      return projects.map((p) => ({ name: p.name, normalizedName: p.normalized_name, createdAt: p.created_at, summary: firstSummary.get(p.id) ?? null }));
    });
  }

  /** Projects whose name or any release summary contains the query (case-insensitive), exact names first. */
  async searchProjects(rawQuery: string, page: number, perPage = 20): Promise<SearchResults> {
    return this.readSnapshot(async (db) => {
      const query = rawQuery.trim().slice(0, MAX_QUERY_CHARS);
      if (query === '') return { query, page: 1, perPage, total: 0, hits: [] };
      // Every word must appear in the name or in some release's summary; names compare in PEP 503 form.
      const terms = query.split(/\s+/).filter(Boolean).slice(0, MAX_QUERY_TERMS);
      const nameQuery = normalizeProjectName(terms.join('-'));
      const namePattern = likePattern(nameQuery);
      // LIKE with an explicit escape character behaves the same on SQLite and PostgreSQL; lower() makes
      // PostgreSQL's case-sensitive LIKE match as SQLite's does.
      const termMatches = terms.map(
        (term) =>
          sql<boolean>`(projects.normalized_name like ${likePattern(normalizeProjectName(term))} escape '\\' or exists (select 1 from releases r where r.project_id = projects.id and lower(r.summary) like ${likePattern(term.toLowerCase())} escape '\\'))`,
      );
      const matches = sql<boolean>`(${sql.join(termMatches, sql` and `)})`;
      const total = Number(
        (await db.selectFrom('projects').select((eb) => eb.fn.countAll().as('n')).where(matches).executeTakeFirstOrThrow()).n,
      );
      const pages = Math.max(1, Math.ceil(total / perPage));
      const current = Math.min(Math.max(1, page), pages);
      const rank = sql<number>`case when projects.normalized_name = ${nameQuery} then 0 when projects.normalized_name like ${`${nameQuery.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\' then 1 when projects.normalized_name like ${namePattern} escape '\\' then 2 else 3 end`;
      const projects = await db
        .selectFrom('projects')
        .select(['id', 'name', 'normalized_name'])
        .where(matches)
        .orderBy(rank)
        .orderBy('normalized_name')
        .limit(perPage)
        .offset((current - 1) * perPage)
        .execute();
      const releases =
        projects.length === 0
          ? []
          : await db
              .selectFrom('releases')
              .select(['project_id', 'version', 'summary', 'yanked'])
              .where(
                'project_id',
                'in',
                projects.map((p) => p.id),
              )
              .orderBy('id')
              .execute();
      const byProject = new Map<number, typeof releases>();
      for (const r of releases) {
        const list = byProject.get(r.project_id) ?? [];
        list.push(r);
        byProject.set(r.project_id, list);
      }
      return {
        query,
        page: current,
        perPage,
        total,
        hits: projects.map((p) => {
          const latest = latestRelease(sortByVersion(byProject.get(p.id) ?? []));
          return { name: p.name, normalizedName: p.normalized_name, version: latest?.version ?? null, summary: latest?.summary ?? null };
        }),
      };
    });
  }

  async projectPageData(name: string): Promise<ProjectPageData | undefined> {
    return this.readSnapshot(async (db) => {
      const project = await db.selectFrom('projects').selectAll().where('normalized_name', '=', normalizeProjectName(name)).executeTakeFirst();
      if (!project) return undefined;
      const [releases, files] = await Promise.all([
        this.releaseListings(db, project.id),
        db.selectFrom('files').select(['id', 'release_id']).where('project_id', '=', project.id).execute(),
      ]);
      const latestListing = latestRelease(releases);
      const [signers, latestInfo] = await Promise.all([
        attestationSignersOfProject(db, project.id),
        latestListing ? db.selectFrom('releases').select('info_json').where('id', '=', latestListing.id).executeTakeFirst() : undefined,
      ]);
      const states = releaseProvenanceStates(releases, files, signers);
      const issuers = signerIssuersByRelease(files, signers);
      const fileCounts = new Map<number, number>();
      for (const f of files) fileCounts.set(f.release_id, (fileCounts.get(f.release_id) ?? 0) + 1);
      const history: ReleaseHistoryEntry[] = releases.map((r) => ({ ...r, fileCount: fileCounts.get(r.id) ?? 0, provenance: states.get(r.id)!, signerIssuers: issuers.get(r.id) ?? [] }));
      history.reverse();
      return {
        project,
        releases: history,
        latest: history.find((r) => r.id === latestListing?.id) ?? null,
        info: parseJsonObject(latestInfo?.info_json ?? null) ?? {},
      };
    });
  }

  async releasePageData(name: string, version: string): Promise<ReleasePageData | undefined> {
    return this.readSnapshot(async (db) => {
      const project = await db.selectFrom('projects').selectAll().where('normalized_name', '=', normalizeProjectName(name)).executeTakeFirst();
      if (!project) return undefined;
      let wanted: string;
      try {
        wanted = normalizeVersion(version);
      } catch {
        return undefined;
      }
      const [releases, projectFiles, release] = await Promise.all([
        this.releaseListings(db, project.id),
        db.selectFrom('files').select(['id', 'release_id']).where('project_id', '=', project.id).execute(),
        db.selectFrom('releases').selectAll().where('project_id', '=', project.id).where('version', '=', wanted).executeTakeFirst(),
      ]);
      if (!release) return undefined;
      const [states, files, attestations] = await Promise.all([
        this.projectProvenanceStates(db, project.id, releases, projectFiles),
        db
          .selectFrom('files')
          .select(['id', 'filename', 'packagetype', 'python_version', 'size', 'sha256', 'upload_time', 'requires_python'])
          .where('release_id', '=', release.id)
          .orderBy('filename')
          .execute(),
        db
          .selectFrom('attestations')
          .innerJoin('files', 'files.id', 'attestations.file_id')
          .select([
            'attestations.id',
            'attestations.file_id',
            'attestations.kind',
            'attestations.predicate_type',
            'attestations.raw_json',
            'attestations.facts_json',
            'attestations.publisher_json',
            'attestations.submitted_before_upload',
            'attestations.first_party',
            'attestations.bound_at',
          ])
          .where('files.release_id', '=', release.id)
          .orderBy('attestations.id')
          .execute(),
      ]);
      const byFile = new Map<number, ReleaseFileAttestation[]>();
      for (const a of attestations) {
        const list = byFile.get(a.file_id) ?? [];
        list.push({
          id: a.id,
          kind: a.kind,
          predicateType: a.predicate_type,
          facts: JSON.parse(a.facts_json) as AttestationFacts,
          publisher: parseJsonObject(a.publisher_json),
          submittedBeforeUpload: a.submitted_before_upload === 1,
          firstParty: a.first_party === 1,
          boundAt: a.bound_at,
          parameters: a.kind === 'build' ? statementParameters(a.raw_json) : null,
        });
        byFile.set(a.file_id, list);
      }
      const latest = latestRelease(releases);
      return {
        project,
        release,
        info: parseJsonObject(release.info_json) ?? {},
        latestVersion: latest?.version ?? null,
        versions: [...releases].reverse().map((r) => ({ version: r.version, yanked: r.yanked === 1 })),
        files: files.map((f) => ({
          id: f.id,
          filename: f.filename,
          packagetype: f.packagetype,
          pythonVersion: f.python_version,
          size: Number(f.size),
          sha256: f.sha256,
          uploadTime: f.upload_time,
          requiresPython: f.requires_python,
          attestations: byFile.get(f.id) ?? [],
        })),
        provenance: states.get(release.id)!,
      };
    });
  }
}
