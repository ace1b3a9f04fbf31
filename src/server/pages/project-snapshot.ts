import type { Kysely } from 'kysely';
import { compareVersions } from '../../formats/pep440.ts';
import { provenanceStates, type AttestationSignerSummary, type ProvenanceState } from '../../formats/provenance-state.ts';
import { FILE_SUMMARY_COLUMNS, type FileSummary } from '../catalogue/index-service.ts';
import type { Database, ProjectRow, ReleaseListing } from '../storage/schema.ts';

/**
 * Everything a project's pages are rendered from, read in the caller's transaction so the pages
 * describe one consistent state of the project (the transaction that changed it).
 */
export interface ProjectSnapshot {
  project: ProjectRow;
  /** Oldest first, by PEP 440 order. */
  releases: ReleaseListing[];
  /** In upload order. */
  files: FileSummary[];
  /** Who signed the first-party attestations bound to each file (never the attestation bodies). */
  signersByFile: Map<number, AttestationSignerSummary[]>;
  /** Who signed third parties' attestations of each file: listed apart, never counted (issue 11). */
  thirdPartyByFile: Map<number, AttestationSignerSummary[]>;
}

export const RELEASE_LISTING_COLUMNS = ['id', 'project_id', 'version', 'summary', 'requires_python', 'yanked', 'yanked_reason', 'created_at'] as const;

/**
 * PEP 440 order, oldest first. Rows come in insertion order, which is nearly always version
 * order, so the (adaptive) sort does about n comparisons instead of n log n version parses.
 */
export function sortByVersion<T extends { version: string }>(rows: T[]): T[] {
  return rows.sort((a, b) => compareVersions(a.version, b.version));
}

export function parseJsonObject(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * First-party attestation signer rows of a project, by file id: what provenance states, badges,
 * feeds and the simple API's provenance links are derived from. Third-party attestations are left
 * out, so a stranger who binds one to a public file changes none of them (issue 11).
 */
export async function attestationSignersOfProject(db: Kysely<Database>, projectId: number): Promise<Map<number, AttestationSignerSummary[]>> {
  return attestationSignersOfProjects(db, [projectId]);
}

/** The same for several projects in one query (the home page's recent releases). */
export async function attestationSignersOfProjects(db: Kysely<Database>, projectIds: readonly number[]): Promise<Map<number, AttestationSignerSummary[]>> {
  return (await attestationSignersByParty(db, projectIds, { thirdParty: false })).firstParty;
}

/** First-party and (unless left out) third-party signers of several projects' files, in one query. */
export async function attestationSignersByParty(
  db: Kysely<Database>,
  projectIds: readonly number[],
  options: { thirdParty: boolean },
): Promise<{ firstParty: Map<number, AttestationSignerSummary[]>; thirdParty: Map<number, AttestationSignerSummary[]> }> {
  let query = db
    .selectFrom('attestations')
    .innerJoin('files', 'files.id', 'attestations.file_id')
    .select(['attestations.file_id', 'attestations.kind', 'attestations.signer_issuer', 'attestations.signer_identity', 'attestations.publisher_json', 'attestations.first_party'])
    .where('files.project_id', 'in', projectIds);
  if (!options.thirdParty) query = query.where('attestations.first_party', '=', 1);
  const rows = await query.orderBy('attestations.id').execute();
  const firstParty = new Map<number, AttestationSignerSummary[]>();
  const thirdParty = new Map<number, AttestationSignerSummary[]>();
  for (const a of rows) {
    const byFile = a.first_party === 1 ? firstParty : thirdParty;
    const list = byFile.get(a.file_id) ?? [];
    list.push({ kind: a.kind, issuer: a.signer_issuer, identity: a.signer_identity, publisher: parseJsonObject(a.publisher_json) });
    byFile.set(a.file_id, list);
  }
  return { firstParty, thirdParty };
}

/** The provenance state of each release (by release id), from the signers of its files. */
export function releaseProvenanceStates(
  releasesOldestFirst: readonly Pick<ReleaseListing, 'id' | 'version'>[],
  files: readonly { id: number; release_id: number }[],
  signersByFile: ReadonlyMap<number, AttestationSignerSummary[]>,
): Map<number, ProvenanceState> {
  const filesByRelease = new Map<number, AttestationSignerSummary[][]>();
  for (const f of files) {
    const list = filesByRelease.get(f.release_id) ?? [];
    list.push(signersByFile.get(f.id) ?? []);
    filesByRelease.set(f.release_id, list);
  }
  const states = provenanceStates(releasesOldestFirst.map((r) => ({ version: r.version, files: filesByRelease.get(r.id) ?? [] })));
  return new Map(releasesOldestFirst.map((r, i) => [r.id, states[i]!]));
}

export async function loadProjectSnapshot(db: Kysely<Database>, projectId: number): Promise<ProjectSnapshot | undefined> {
  return (await loadProjectSnapshots(db, [projectId])).get(projectId);
}

/** Statements carry at most this many ids: under both engines' limits on bound parameters. */
const IDS_PER_STATEMENT = 500;

/**
 * Snapshots of many projects in four statements per few hundred projects, not four per project:
 * an import's batch renders thousands of projects, and on PostgreSQL each statement is a round trip.
 */
export async function loadProjectSnapshots(db: Kysely<Database>, projectIds: readonly number[]): Promise<Map<number, ProjectSnapshot>> {
  const snapshots = new Map<number, ProjectSnapshot>();
  for (let i = 0; i < projectIds.length; i += IDS_PER_STATEMENT) {
    const ids = projectIds.slice(i, i + IDS_PER_STATEMENT);
    // One statement at a time: inside a transaction they share its connection, and each sees the
    // transaction's own writes.
    const projects = await db.selectFrom('projects').selectAll().where('id', 'in', ids).execute();
    for (const project of projects) snapshots.set(project.id, { project, releases: [], files: [], signersByFile: new Map(), thirdPartyByFile: new Map() });
    const releases = await db.selectFrom('releases').select(RELEASE_LISTING_COLUMNS).where('project_id', 'in', ids).orderBy('id').execute();
    for (const release of releases) snapshots.get(release.project_id)?.releases.push(release);
    const files = await db.selectFrom('files').select(FILE_SUMMARY_COLUMNS).where('project_id', 'in', ids).orderBy('id').execute();
    const projectOfFile = new Map<number, number>();
    for (const file of files) {
      snapshots.get(file.project_id)?.files.push(file);
      projectOfFile.set(file.id, file.project_id);
    }
    const { firstParty, thirdParty } = await attestationSignersByParty(db, ids, { thirdParty: true });
    for (const [fileId, signers] of firstParty) {
      const projectId = projectOfFile.get(fileId);
      if (projectId !== undefined) snapshots.get(projectId)?.signersByFile.set(fileId, signers);
    }
    for (const [fileId, signers] of thirdParty) {
      const projectId = projectOfFile.get(fileId);
      if (projectId !== undefined) snapshots.get(projectId)?.thirdPartyByFile.set(fileId, signers);
    }
  }
  for (const snapshot of snapshots.values()) sortByVersion(snapshot.releases);
  return snapshots;
}

/** The core-metadata JSON (`info`) of many releases, by release id. */
export async function releaseInfoJsons(db: Kysely<Database>, releaseIds: readonly number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let i = 0; i < releaseIds.length; i += IDS_PER_STATEMENT) {
    const rows = await db.selectFrom('releases').select(['id', 'info_json']).where('id', 'in', releaseIds.slice(i, i + IDS_PER_STATEMENT)).execute();
    for (const row of rows) out.set(row.id, row.info_json);
  }
  return out;
}

/** The core-metadata JSON (`info`) of one release. */
export async function releaseInfoJson(db: Kysely<Database>, releaseId: number): Promise<string> {
  const row = await db.selectFrom('releases').select('info_json').where('id', '=', releaseId).executeTakeFirstOrThrow();
  return row.info_json;
}
