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
  /** Who signed the attestations bound to each file (never the attestation bodies). */
  signersByFile: Map<number, AttestationSignerSummary[]>;
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
  const rows = await db
    .selectFrom('attestations')
    .innerJoin('files', 'files.id', 'attestations.file_id')
    .select(['attestations.file_id', 'attestations.kind', 'attestations.signer_issuer', 'attestations.signer_identity', 'attestations.publisher_json'])
    .where('files.project_id', 'in', projectIds)
    .where('attestations.first_party', '=', 1)
    .orderBy('attestations.id')
    .execute();
  const byFile = new Map<number, AttestationSignerSummary[]>();
  for (const a of rows) {
    const list = byFile.get(a.file_id) ?? [];
    list.push({ kind: a.kind, issuer: a.signer_issuer, identity: a.signer_identity, publisher: parseJsonObject(a.publisher_json) });
    byFile.set(a.file_id, list);
  }
  return byFile;
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
  // One statement at a time: inside a transaction they share its connection, and each sees the
  // transaction's own writes.
  const project = await db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirst();
  if (!project) return undefined;
  const releases = sortByVersion(await db.selectFrom('releases').select(RELEASE_LISTING_COLUMNS).where('project_id', '=', projectId).orderBy('id').execute());
  const files = await db.selectFrom('files').select(FILE_SUMMARY_COLUMNS).where('project_id', '=', projectId).orderBy('id').execute();
  const signersByFile = await attestationSignersOfProject(db, projectId);
  return { project, releases, files, signersByFile };
}

/** The core-metadata JSON (`info`) of one release. */
export async function releaseInfoJson(db: Kysely<Database>, releaseId: number): Promise<string> {
  const row = await db.selectFrom('releases').select('info_json').where('id', '=', releaseId).executeTakeFirstOrThrow();
  return row.info_json;
}
