import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDistribution, type DistSpec } from './dist-factory.ts';
import { DEFAULT_BUILDER_WORKFLOW, provideBuildProvenance } from './provenance.ts';
import { basicAuth, type TestServer } from './server.ts';
import { uploadFile as uploadViaLegacy } from './upload.ts';

/**
 * A small index for the web UI tests, made through the real upload and provenance routes: a
 * project with build provenance from the dev trust domain, a project whose metadata is hostile,
 * and enough look-alike projects to page search results.
 */

export const PROVENANCE_PROJECT = 'demo-provenance';
export const EVIL_PROJECT = 'evil-pkg';
export const BUILD_REPOSITORY = 'octo-org/demo-provenance';
export const BUILD_COMMIT = '0123456789abcdef0123456789abcdef01234567';
export const BUILDER_ID = `https://github.com/${DEFAULT_BUILDER_WORKFLOW}`;
export const SEARCH_FILLER = 25;
export const YANK_REASON = 'broken <b>packaging</b>';
/** Created by the operator, never uploaded to. */
export const EMPTY_PROJECT = 'empty-project';
/** Every release yanked: an unpinned install finds nothing. */
export const ALL_YANKED_PROJECT = 'all-yanked-lib';
/** Built by a builder whose identity is a long URL with no break opportunity for a phone's width. */
export const LONG_BUILDER_PROJECT = 'long-builder-urls';
export const LONG_BUILDER_WORKFLOW =
  'an-organisation-with-a-rather-long-name/reusable-python-distribution-builders-for-every-team/.github/workflows/build-sign-and-submit-python-distributions-with-provenance.yml@refs/tags/v12.345.6789';
export const LONG_BUILDER_REPOSITORY = 'an-organisation-with-a-rather-long-name/a-python-library-with-an-unusually-long-repository-name';
/** A stranger who rebuilds the long-named project's file after its upload: shown apart, as third-party. */
export const THIRD_PARTY_REPOSITORY = 'an-independent-rebuilder-collective/rebuilds-of-other-peoples-python-distributions';
export const THIRD_PARTY_WORKFLOW = `${THIRD_PARTY_REPOSITORY}/.github/workflows/rebuild-and-attest-every-distribution-we-can-find.yml@refs/heads/main`;

/** Hostile values: each one would run script or make a javascript: link if it reached the page raw. */
export const HOSTILE = {
  summary: `<script>window.__pwned = 'summary'</script><img src=x onerror="window.__pwned='summary-img'">`,
  author: `<img src=x onerror="window.__pwned='author'">`,
  description: [
    '# Evil',
    '',
    '<script>window.__pwned = "description"</script>',
    '',
    '[click me](javascript:window.__pwned=%22md-link%22)',
    '',
    '[entity](&#106;avascript:window.__pwned=1)',
    '',
    '![img](javascript:window.__pwned=2)',
    '',
    '<a href="javascript:window.__pwned=3">raw anchor</a>',
    '',
    'Docs: https://example.com/docs',
  ].join('\n'),
  projectUrls: [
    'Homepage, javascript:window.__pwned="project-url"',
    'Tricky, java\tscript:window.__pwned="tab"',
    'Data, data:text/html,<script>window.__pwned="data"</script>',
    'Docs, https://example.com/evil-docs',
  ],
  /** Stored straight into the database: upload refuses such names, the page must still be safe. */
  filename: `evil_pkg-1.0"><script>window.__pwned='filename'</script><a href="javascript:1">.tar.gz`,
};

export interface UploadedFile {
  filename: string;
  sha256: string;
  path: string;
}

/** POST /legacy/ as twine does, with the bytes of a distribution already on disk. */
export async function uploadDistribution(
  server: TestServer,
  token: string,
  dist: { filename: string; bytes: Buffer; path: string },
): Promise<UploadedFile> {
  const answer = await uploadViaLegacy(server.url, dist.path, basicAuth(token));
  if (answer.status !== 200) throw new Error(`upload of ${dist.filename} failed: ${answer.status} ${answer.body.message ?? ''}`);
  return { filename: dist.filename, sha256: createHash('sha256').update(dist.bytes).digest('hex'), path: dist.path };
}

export async function uploadFile(server: TestServer, token: string, spec: DistSpec, dir: string): Promise<UploadedFile> {
  return uploadDistribution(server, token, makeDistribution(dir, spec));
}

export interface UiCorpus {
  /** Files of the release with build provenance. */
  provenanceFiles: UploadedFile[];
  provenanceVersion: string;
}

/** Needs a server started with `{ devTrust: true }`. */
export async function seedUiCorpus(server: TestServer): Promise<UiCorpus> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-ui-corpus-'));
  try {
    const token = await server.token('new_projects');
    const description = '# Demo\n\nA project whose **files say where they came from**.\n\n```python\nimport demo\n```\n';
    const common = {
      name: PROVENANCE_PROJECT,
      summary: 'Demonstrates build provenance in the cairn web UI',
      description,
      extraHeaders: `Description-Content-Type: text/markdown\nAuthor: Octo Org\nLicense: Apache-2.0\nRequires-Python: >=3.9\nProject-URL: Source, https://github.com/${BUILD_REPOSITORY}\n`,
    };
    // 0.9: an early release, later yanked (the reason is metadata too, so it is hostile here).
    await uploadFile(server, token, { ...common, version: '0.9', kind: 'sdist' }, dir);
    await server.services.index.setYanked(PROVENANCE_PROJECT, '0.9', true, YANK_REASON);
    // 1.0: uploaded without provenance.
    for (const kind of ['wheel', 'sdist'] as const) await uploadFile(server, token, { ...common, version: '1.0', kind }, dir);
    // 1.1: each file built and signed through the dev trust domain before upload.
    const provenanceFiles: UploadedFile[] = [];
    for (const kind of ['wheel', 'sdist'] as const) {
      const spec = { ...common, version: '1.1', kind };
      const dist = makeDistribution(dir, spec);
      const submitted = await provideBuildProvenance(server, dist.path, { claims: { repository: BUILD_REPOSITORY, sha: BUILD_COMMIT } });
      if (submitted.submitted.status !== 200) throw new Error(`provenance submission failed: ${JSON.stringify(submitted.submitted.body)}`);
      provenanceFiles.push(await uploadDistribution(server, token, dist));
    }

    // Built by a builder with a long identity; submitted now, uploaded last.
    const long = makeDistribution(dir, { name: LONG_BUILDER_PROJECT, version: '3.0', kind: 'wheel', summary: 'Built by a builder with a long name' });
    const longSubmitted = await provideBuildProvenance(server, long.path, {
      claims: { repository: LONG_BUILDER_REPOSITORY, sha: BUILD_COMMIT, job_workflow_ref: LONG_BUILDER_WORKFLOW, workflow_ref: `${LONG_BUILDER_REPOSITORY}/.github/workflows/release-every-python-distribution.yml@refs/heads/main` },
    });
    if (longSubmitted.submitted.status !== 200) throw new Error(`provenance submission failed: ${JSON.stringify(longSubmitted.submitted.body)}`);

    await uploadFile(
      server,
      token,
      {
        name: EVIL_PROJECT,
        version: '1.0',
        kind: 'wheel',
        summary: HOSTILE.summary,
        description: HOSTILE.description,
        extraHeaders: `Description-Content-Type: text/markdown\nAuthor: ${HOSTILE.author}\n${HOSTILE.projectUrls.map((u) => `Project-URL: ${u}`).join('\n')}\n`,
      },
      dir,
    );
    const evil = await server.services.db
      .selectFrom('files')
      .innerJoin('projects', 'projects.id', 'files.project_id')
      .selectAll('files')
      .where('projects.normalized_name', '=', EVIL_PROJECT)
      .executeTakeFirstOrThrow();
    const { id: _id, ...row } = evil;
    await server.services.db
      .insertInto('files')
      .values({ ...row, filename: HOSTILE.filename, sha256: 'e'.repeat(64), blake2b_256: 'f'.repeat(64) })
      .execute();

    await server.services.index.createProject(EMPTY_PROJECT, new Date());
    for (let i = 0; i < SEARCH_FILLER; i++) {
      await uploadFile(server, token, { name: `filler-lib-${i}`, version: '0.1', kind: 'wheel', summary: `Filler library number ${i} for search paging` }, dir);
    }
    await uploadFile(server, token, { name: ALL_YANKED_PROJECT, version: '2.0', kind: 'wheel', summary: 'Withdrawn' }, dir);
    await server.services.index.setYanked(ALL_YANKED_PROJECT, '2.0', true, 'withdrawn');
    // Uploaded last (its provenance waits, pending), so it leads the home page's recent uploads.
    await uploadDistribution(server, token, long);
    const rebuilt = await provideBuildProvenance(server, long.path, {
      claims: { repository: THIRD_PARTY_REPOSITORY, sha: BUILD_COMMIT, job_workflow_ref: THIRD_PARTY_WORKFLOW, workflow_ref: THIRD_PARTY_WORKFLOW },
    });
    if (rebuilt.submitted.status !== 200) throw new Error(`third-party submission failed: ${JSON.stringify(rebuilt.submitted.body)}`);
    return { provenanceFiles, provenanceVersion: '1.1' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
