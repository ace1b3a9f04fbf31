import type { Generated, Insertable, Selectable } from 'kysely';
import type { ProjectStatus } from '../../formats/project-status.ts';

/**
 * One schema for SQLite and PostgreSQL. Portable choices: booleans are 0/1 integers, timestamps are
 * ISO-8601 UTC strings (they sort as text), sizes are bigint read back as numbers.
 */
export interface Database {
  projects: ProjectsTable;
  releases: ReleasesTable;
  files: FilesTable;
  burned_filenames: BurnedFilenamesTable;
  api_tokens: ApiTokensTable;
  token_projects: TokenProjectsTable;
  project_owners: ProjectOwnersTable;
  blob_intents: BlobIntentsTable;
  trusted_publishers: TrustedPublishersTable;
  oidc_used_jti: OidcUsedJtiTable;
  publishing_tokens: PublishingTokensTable;
  attestations: AttestationsTable;
  pending_provenance: PendingProvenanceTable;
  rendered_pages: RenderedPagesTable;
  superseded_pages: SupersededPagesTable;
  root_chunks: RootChunksTable;
  page_changes: PageChangesTable;
  derived_state: DerivedStateTable;
  tuf_targets: TufTargetsTable;
  tuf_dirty_slots: TufDirtySlotsTable;
  tuf_roles: TufRolesTable;
  tuf_metadata: TufMetadataTable;
  tuf_state: TufStateTable;
  publishing_sessions: PublishingSessionsTable;
  session_files: SessionFilesTable;
  session_attestations: SessionAttestationsTable;
  project_publish_policies: ProjectPublishPoliciesTable;
  catalogue_counts: CatalogueCountsTable;
}

/** Rows of the counted tables, kept by triggers (migration 0012): `/metrics` and the home page read them in O(1). */
export interface CatalogueCountsTable {
  table_name: CountedTable;
  n: number;
}

export type CountedTable = 'projects' | 'releases' | 'files' | 'attestations';

export interface ProjectsTable {
  id: Generated<number>;
  name: string;
  normalized_name: string;
  created_at: string;
  /** Bumped on every change visible in the simple API; keys the rendered-page cache. */
  serial: number;
  /** PEP 792 status marker (`active`, `archived`, `quarantined`, `deprecated`). */
  status: Generated<ProjectStatus>;
  status_reason: Generated<string | null>;
  status_changed_at: Generated<string | null>;
}

export interface ReleasesTable {
  id: Generated<number>;
  project_id: number;
  version: string;
  summary: string | null;
  requires_python: string | null;
  info_json: string;
  yanked: number;
  yanked_reason: string | null;
  created_at: string;
}

export interface FilesTable {
  id: Generated<number>;
  project_id: number;
  release_id: number;
  filename: string;
  packagetype: string;
  python_version: string;
  size: number;
  sha256: string;
  md5: string;
  blake2b_256: string;
  requires_python: string | null;
  core_metadata: string;
  core_metadata_sha256: string;
  upload_time: string;
  uploaded_by_token_id: number | null;
}

/** PyPI semantics: a filename once used can never be used again, even after deletion. */
export interface BurnedFilenamesTable {
  filename: string;
  burned_at: string;
}

export interface ApiTokensTable {
  id: Generated<number>;
  token_hash: string;
  description: string;
  /** 'projects' (scoped to token_projects), 'new_projects' (may create), 'publishing' (minted by OIDC exchange). */
  scope: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface TokenProjectsTable {
  token_id: number;
  normalized_name: string;
}

export interface ProjectOwnersTable {
  project_id: number;
  token_id: number;
}

/**
 * A blob renamed into place but whose file row is not committed yet. Start-up removes blobs whose
 * intent survived a crash and that no file row references (no orphan blobs after SIGKILL).
 */
export interface BlobIntentsTable {
  sha256: string;
  created_at: string;
}

export type ProjectRow = Selectable<ProjectsTable>;
export type ReleaseRow = Selectable<ReleasesTable>;
/** A release without its (possibly large) core-metadata JSON. */
export type ReleaseListing = Omit<ReleaseRow, 'info_json'>;
export type FileRow = Selectable<FilesTable>;
export type NewFileRow = Insertable<FilesTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;

export interface TrustedPublishersTable {
  id: Generated<number>;
  /** Null for a pending publisher, which may create `pending_project_name` on first upload. */
  project_id: number | null;
  pending_project_name: string | null;
  kind: 'github' | 'gitlab' | 'google' | 'dev';
  issuer: string;
  /** GitHub `owner/repo`; GitLab `namespace/project`; Google: the service account email. */
  repository: string;
  /** GitHub workflow file name; GitLab CI file path; Google: the subject (may be empty). */
  workflow: string;
  environment: string | null;
  created_at: string;
}

export interface OidcUsedJtiTable {
  issuer: string;
  jti: string;
  expires_at: string;
}

/** Links a minted short-lived upload token to the publisher (and claims) that earned it. */
export interface PublishingTokensTable {
  token_id: number;
  publisher_id: number;
  claims_json: string;
  /** 1: the token authorises one upload; its second use is refused (`auth.token_used`). */
  single_use: Generated<number>;
  used_at: Generated<string | null>;
}

export interface AttestationsTable {
  id: Generated<number>;
  file_id: number;
  kind: 'build' | 'publish' | 'other';
  predicate_type: string;
  /** The PEP 740 attestation object exactly as received. */
  raw_json: string;
  statement_sha256: string;
  signer_issuer: string;
  signer_identity: string;
  facts_json: string;
  publisher_json: string | null;
  submitted_before_upload: number;
  /** 1 when the project itself vouches for it (issue 11, docs/decisions.md); 0 for a third party. */
  first_party: Generated<number>;
  bound_at: string;
}

export interface PendingProvenanceTable {
  id: Generated<number>;
  filename: string;
  sha256: string;
  predicate_type: string;
  raw_json: string;
  statement_sha256: string;
  signer_issuer: string;
  signer_identity: string;
  facts_json: string;
  created_at: string;
  expires_at: string;
}

export type TrustedPublisherRow = Selectable<TrustedPublishersTable>;
export type AttestationRow = Selectable<AttestationsTable>;

export type PageKind = 'simple-html' | 'simple-json' | 'json-api';

/** A page rendered on write, gzip-compressed; `sha256` and `length` describe the uncompressed bytes. */
export interface RenderedPagesTable {
  normalized_name: string;
  kind: PageKind;
  sha256: string;
  length: number;
  gzip: Buffer;
  rendered_at: string;
}

export interface SupersededPagesTable {
  sha256: string;
  normalized_name: string;
  kind: PageKind;
  length: number;
  gzip: Buffer;
  superseded_at: string;
}

/**
 * Projects with ids in [chunk × size, (chunk + 1) × size) as `/simple/` entries: raw deflate
 * segments ending in a full flush, so segments concatenate into one gzip stream (RFC 1951 §3.2.4).
 */
export interface RootChunksTable {
  chunk: number;
  projects: number;
  html_length: number;
  html_crc32: number;
  html_deflate: Buffer;
  json_length: number;
  json_crc32: number;
  json_deflate: Buffer;
  sha256: string;
  rendered_at: string;
}

/** The journal of page changes other processes poll (a project's pages, or a root chunk). */
export interface PageChangesTable {
  id: Generated<number>;
  normalized_name: string | null;
  chunk: number | null;
  changed_at: string;
}

/** Facts about derived data, e.g. which renderer and base URL the stored pages were made with. */
export interface DerivedStateTable {
  key: string;
  value: string;
}

/** Every TUF target (PEP 458): files, their PEP 658 metadata and the simple pages. */
export interface TufTargetsTable {
  path: string;
  /** Leftmost 16 bits of SHA-256(path): which bin lists it. */
  slot: number;
  length: number;
  sha256: string;
  /** JSON of the target's `custom` object, if any. */
  custom: string | null;
}

export interface TufDirtySlotsTable {
  slot: number;
  generation: number;
}

/** A published role: version, expiry and what the repository needs to know of it (JSON). */
export interface TufRolesTable {
  name: string;
  version: number;
  expires: string;
  detail: string;
}

/** Signed metadata files by the name clients ask for (`timestamp.json`, `12.bin-3f.json`). */
export interface TufMetadataTable {
  name: string;
  bytes: Buffer;
  created_at: string;
  superseded_at: string | null;
}

export interface TufStateTable {
  id: number;
  lock_owner: string | null;
  lock_expires: string | null;
  /** The earliest time a published role is due for renewal; before it, no change means no work. */
  next_renewal: string | null;
  timestamp_version: number;
}

/** A publishing session (PEP 694 draft): one project version staged until published or ended. */
export interface PublishingSessionsTable {
  id: Generated<number>;
  /** The unguessable session token; the session's URLs are built from it. */
  token: string;
  project_name: string;
  normalized_name: string;
  version: string;
  status: 'pending' | 'published' | 'canceled';
  require_provenance: 'build' | null;
  /** JSON array of the filenames the client said it will upload, or null. */
  expected_files: string | null;
  created_by_token_id: number;
  created_at: string;
  expires_at: string;
  ended_at: string | null;
}

/** A distribution staged in a session: stored in the blob store, listed only in the session's stage. */
export interface SessionFilesTable {
  id: Generated<number>;
  session_id: number;
  filename: string;
  packagetype: string;
  python_version: string;
  size: number;
  sha256: string;
  md5: string;
  blake2b_256: string;
  requires_python: string | null;
  core_metadata: string;
  core_metadata_sha256: string;
  /** The `Name` of the core metadata (the project's display name if the session creates it). */
  metadata_name: string;
  summary: string | null;
  info_json: string;
  uploaded_at: string;
  uploaded_by_token_id: number | null;
}

/** A verified attestation sent with a staged upload, bound to the file when the session publishes. */
export interface SessionAttestationsTable {
  id: Generated<number>;
  session_file_id: number;
  kind: 'build' | 'publish' | 'other';
  raw_json: string;
  statement_sha256: string;
  facts_json: string;
  publisher_json: string | null;
}

/** A project's rule for what may become public (by normalised name, so it may precede the project). */
export interface ProjectPublishPoliciesTable {
  normalized_name: string;
  /** 'build': no file becomes public without verified build provenance (docs/staged-publishing.md). */
  require_provenance: 'build';
  set_at: string;
}
