import { CairnError } from '../../errors.ts';
import { isPrerelease, normalizeVersion } from '../../formats/pep440.ts';
import { projectStatusJson, statusServesFiles } from '../../formats/project-status.ts';
import type { ProvenanceState } from '../../formats/provenance-state.ts';
import type { FileSummary } from '../catalogue/index-service.ts';
import type { ProjectRow, ReleaseListing } from '../storage/schema.ts';
import type { IndexUrls } from './index-urls.ts';

/** PyPI's JSON API shape (`/pypi/{project}/json`) for the fields tools actually read. */
export interface JsonApiFile {
  comment_text: string;
  digests: { md5: string; sha256: string; blake2b_256: string };
  downloads: number;
  filename: string;
  has_sig: boolean;
  md5_digest: string;
  packagetype: string;
  python_version: string;
  requires_python: string | null;
  size: number;
  upload_time: string;
  upload_time_iso_8601: string;
  url: string;
  yanked: boolean;
  yanked_reason: string | null;
  provenance: string | null;
}

/**
 * The release PyPI calls "latest": newest non-yanked final release, else newest non-yanked, else
 * newest. `oldestFirst` is ordered by version, oldest first.
 */
export function latestRelease<T extends { version: string; yanked: number }>(oldestFirst: readonly T[]): T | undefined {
  const live = oldestFirst.filter((r) => !r.yanked);
  return live.filter((r) => !isPrerelease(r.version)).at(-1) ?? live.at(-1) ?? oldestFirst.at(-1);
}

/** What the JSON API is built from: the project, its releases oldest first (PEP 440), its files. */
export interface JsonApiListing {
  project: ProjectRow;
  releases: readonly ReleaseListing[];
  files: readonly FileSummary[];
}

/** The release `/pypi/{project}/json` describes (PyPI's "latest"), or the one `version` names. */
export function chooseJsonApiRelease(listing: JsonApiListing, version?: string): ReleaseListing {
  const { project, releases } = listing;
  let release: ReleaseListing | undefined;
  if (version !== undefined) {
    const wanted = normalizeVersion(version);
    release = releases.find((r) => r.version === wanted);
    if (!release) throw new CairnError('release.not_found', `project '${project.name}' has no release ${version}`);
  } else {
    release = latestRelease(releases);
  }
  if (!release) throw new CairnError('release.not_found', `project '${project.name}' has no releases`);
  return release;
}

/**
 * PyPI's JSON API document for `release` (from chooseJsonApiRelease), whose core metadata is
 * `infoJson`; `perVersion` is the `/pypi/{project}/{version}/json` shape (no `releases` map).
 */
export function buildProjectJson(
  listing: JsonApiListing,
  release: ReleaseListing,
  infoJson: string,
  urls: IndexUrls,
  options: {
    perVersion?: boolean;
    withProvenance?: ReadonlySet<number>;
    provenanceStates?: ReadonlyMap<number, ProvenanceState>;
    /** Third parties' attestation signers by file id, listed apart (issue 11). */
    thirdParty?: ReadonlyMap<number, readonly { issuer: string; identity: string }[]>;
  } = {},
): Record<string, unknown> {
  const { project, releases } = listing;
  // PEP 792: nothing of a quarantined project is offered for download, here as on /simple/.
  const files = statusServesFiles(project.status) ? listing.files : [];
  const filesByRelease = new Map<number, FileSummary[]>();
  for (const f of files) {
    const list = filesByRelease.get(f.release_id) ?? [];
    list.push(f);
    filesByRelease.set(f.release_id, list);
  }
  const releaseVersion = new Map(releases.map((r) => [r.id, r]));
  const toFile = (f: FileSummary): JsonApiFile => {
    const r = releaseVersion.get(f.release_id)!;
    return {
      comment_text: '',
      digests: { md5: f.md5, sha256: f.sha256, blake2b_256: f.blake2b_256 },
      downloads: -1,
      filename: f.filename,
      has_sig: false,
      md5_digest: f.md5,
      packagetype: f.packagetype,
      python_version: f.python_version,
      requires_python: f.requires_python,
      size: f.size,
      // PyPI's legacy field has no zone; the ISO one is UTC with a Z.
      upload_time: f.upload_time.replace(/\.\d+Z$/, '').replace(/Z$/, ''),
      upload_time_iso_8601: f.upload_time,
      url: urls.fileUrl(f.sha256, f.filename),
      yanked: r.yanked === 1,
      yanked_reason: r.yanked ? r.yanked_reason : null,
      provenance: options.withProvenance?.has(f.id) ? urls.provenanceUrl(project.normalized_name, r.version, f.filename) : null,
      // cairn extension: who else attested the file after it was public ("also attested by"),
      // apart from its provenance; present only when someone did (the integrity API has them).
      ...(options.thirdParty?.has(f.id)
        ? { cairn_third_party_attestations: options.thirdParty.get(f.id)!.map((a) => ({ issuer: a.issuer, identity: a.identity })) }
        : {}),
    };
  };

  const info = JSON.parse(infoJson) as Record<string, unknown>;
  const body: Record<string, unknown> = {
    info: {
      ...info,
      name: project.name,
      version: release.version,
      yanked: release.yanked === 1,
      yanked_reason: release.yanked ? release.yanked_reason : null,
      package_url: `/project/${project.normalized_name}/`,
      project_url: `/project/${project.normalized_name}/`,
      release_url: `/project/${project.normalized_name}/${release.version}/`,
      // cairn extension (issue 6): the release's provenance state, derived from stored attestations.
      ...(options.provenanceStates ? { provenance_state: options.provenanceStates.get(release.id) ?? null } : {}),
    },
    last_serial: project.serial,
    // PEP 792 status under the PEP 691 key name, so one reader serves both APIs.
    'project-status': projectStatusJson(project.status, project.status_reason),
    urls: (filesByRelease.get(release.id) ?? []).map(toFile),
    vulnerabilities: [],
  };
  if (!options.perVersion) {
    body.releases = Object.fromEntries(releases.map((r) => [r.version, (filesByRelease.get(r.id) ?? []).map(toFile)]));
  }
  return body;
}
