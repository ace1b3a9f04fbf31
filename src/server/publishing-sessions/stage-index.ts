import type { Kysely } from 'kysely';
import { CairnError } from '../../errors.ts';
import { normalizeProjectName } from '../../formats/project-name.ts';
import type { SimpleFile, SimpleProject } from '../../formats/simple-api.ts';
import type { IndexUrls } from '../pages/index-urls.ts';
import type { Database } from '../storage/schema.ts';
import type { PublishingSessionService } from './publishing-sessions.ts';

/** Where a session's stage lives, relative to the index's base (PEP 694: calculable from the session token). */
export function stagePath(token: string): string {
  return `/_/sessions/${token}/stage`;
}

export interface StagedDownload {
  sha256: string;
  size: number;
  coreMetadata: string;
  coreMetadataSha256: string;
}

/**
 * The stage preview (PEP 694): a simple index under the session's URL that shows the project as
 * it would be once the session is published — its public files and the staged ones — so
 * `pip install --index-url <stage>/simple/` tests the release before anyone else can see it.
 * The session token alone grants it, as the PEP allows; it ends with the session.
 */
export class StageIndex {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly sessions: PublishingSessionService,
    private readonly urls: IndexUrls,
    private readonly baseUrl: string | null,
  ) {}

  /** The project names the stage lists (the session's one). */
  async projects(token: string): Promise<{ name: string; normalizedName: string }[]> {
    const session = await this.sessions.liveSession(token);
    return [{ name: session.project_name, normalizedName: session.normalized_name }];
  }

  async project(token: string, requestedName: string): Promise<SimpleProject> {
    const session = await this.sessions.liveSession(token);
    if (normalizeProjectName(requestedName) !== session.normalized_name) {
      throw new CairnError('project.not_found', `the stage of this session holds only ${session.normalized_name}`);
    }
    const stageBase = `${this.baseUrl ?? ''}${stagePath(token)}`;
    const publicRows = await this.db
      .selectFrom('files')
      .innerJoin('projects', 'projects.id', 'files.project_id')
      .innerJoin('releases', 'releases.id', 'files.release_id')
      .select(['files.filename', 'files.sha256', 'files.requires_python', 'files.core_metadata_sha256', 'files.size', 'files.upload_time', 'releases.version', 'releases.yanked', 'releases.yanked_reason'])
      .where('projects.normalized_name', '=', session.normalized_name)
      .orderBy('files.id')
      .execute();
    const staged = await this.sessions.stagedFiles(session.id);
    const files: SimpleFile[] = [
      ...publicRows.map((f) => ({
        filename: f.filename,
        url: this.urls.fileUrl(f.sha256, f.filename),
        sha256: f.sha256,
        requiresPython: f.requires_python,
        yanked: f.yanked ? (f.yanked_reason ?? '') : (false as const),
        coreMetadataSha256: f.core_metadata_sha256,
        size: Number(f.size),
        uploadTime: f.upload_time,
        provenanceUrl: null,
      })),
      ...staged.map((f) => ({
        filename: f.filename,
        url: `${stageBase}/files/${f.sha256}/${encodeURIComponent(f.filename)}`,
        sha256: f.sha256,
        requiresPython: f.requires_python,
        yanked: false as const,
        coreMetadataSha256: f.core_metadata_sha256,
        size: Number(f.size),
        uploadTime: f.uploaded_at,
        provenanceUrl: null,
      })),
    ];
    const versions = [...new Set([...publicRows.map((f) => f.version), ...(staged.length > 0 ? [session.version] : [])])];
    return { name: session.normalized_name, versions, files };
  }

  async file(token: string, sha256: string, filename: string): Promise<StagedDownload> {
    const session = await this.sessions.liveSession(token);
    const file = await this.db
      .selectFrom('session_files')
      .select(['sha256', 'size', 'core_metadata', 'core_metadata_sha256'])
      .where('session_id', '=', session.id)
      .where('filename', '=', filename)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    if (!file) throw new CairnError('file.not_found', `no staged file ${filename} with sha256 ${sha256} in this session`);
    return { sha256: file.sha256, size: Number(file.size), coreMetadata: file.core_metadata, coreMetadataSha256: file.core_metadata_sha256 };
  }
}
