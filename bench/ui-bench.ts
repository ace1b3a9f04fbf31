import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { loadServerConfig } from '../src/server/config.ts';
import type { AttestationFacts } from '../src/formats/provenance-object.ts';
import { buildApp } from '../src/server/http/app.ts';
import { openServices, type CairnServices } from '../src/server/composition.ts';

/**
 * Web UI benchmark (issue 6): server render time of the project and release pages of a project
 * with 500 releases (two files each, build provenance on most), measured in-process with
 * `app.inject` so the figure is the server's own time, not the network's. Baseline, measured in
 * the same run and the same way: `GET /simple/{project}/` of the same project (cached, as served).
 * Goal: well under 50 ms per page.
 */
const RELEASES = Number(process.env.BENCH_UI_RELEASES ?? 500);
const OTHER_PROJECTS = Number(process.env.BENCH_UI_PROJECTS ?? 2000);
const ITERATIONS = Number(process.env.BENCH_UI_ITERATIONS ?? 200);
const PROJECT = 'big-project';
const BUILDER = 'https://github.com/cairn-dev/builder/.github/workflows/cairn-build.yml@refs/tags/v1';
const REPOSITORY = 'https://github.com/big-org/big-project';
const ISSUER = 'https://token.actions.githubusercontent.com';

const README = [
  '# big-project',
  '',
  'A project with a long history, used to measure the web UI.',
  '',
  ...Array.from({ length: 60 }, (_, i) =>
    [`## Section ${i}`, '', `Some *emphasis*, a [link](https://example.com/${i}), \`code\` and a list:`, '', '- one', '- two', '', '```python', `print(${i})`, '```', ''].join('\n'),
  ),
].join('\n');

function facts(commit: string, logIndex: number): AttestationFacts {
  return {
    kind: 'build',
    predicateType: 'https://slsa.dev/provenance/v1',
    issuer: ISSUER,
    identity: BUILDER,
    buildSignerUri: BUILDER,
    buildSignerDigest: commit,
    sourceRepositoryUri: REPOSITORY,
    sourceRepositoryDigest: commit,
    sourceRepositoryRef: 'refs/heads/main',
    buildConfigUri: `${REPOSITORY}/.github/workflows/release.yml@refs/heads/main`,
    runInvocationUri: `${REPOSITORY}/actions/runs/${logIndex}/attempts/1`,
    runnerEnvironment: 'github-hosted',
    certificateNotBefore: '2025-01-01T00:00:00.000Z',
    certificateNotAfter: '2025-01-01T00:10:00.000Z',
    logIndex: String(logIndex),
    integratedTime: '2025-01-01T00:00:05.000Z',
    buildType: 'https://cairn.dev/buildtypes/python-dist/v1',
    builderId: BUILDER,
    statementRepository: REPOSITORY,
    statementCommit: commit,
    invocationId: `${REPOSITORY}/actions/runs/${logIndex}/attempts/1`,
  };
}

/** A stored attestation the size of a real one (certificate and signature included). */
function rawAttestation(filename: string, sha256: string, commit: string): string {
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: filename, digest: { sha256 } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: 'https://cairn.dev/buildtypes/python-dist/v1',
        externalParameters: { source: { repository: REPOSITORY, commit, ref: 'refs/heads/main' } },
      },
      runDetails: { builder: { id: BUILDER } },
    },
  };
  return JSON.stringify({
    version: 1,
    verification_material: { certificate: Buffer.alloc(1400, 7).toString('base64'), transparency_entries: [{ logIndex: '1', inclusionProof: { hashes: Array(20).fill('a'.repeat(44)) } }] },
    envelope: { statement: Buffer.from(JSON.stringify(statement)).toString('base64'), signature: Buffer.alloc(72, 3).toString('base64') },
  });
}

export async function buildUiBenchCorpus(services: CairnServices): Promise<string> {
  const now = new Date('2025-01-01T00:00:00Z');
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  let latestVersion = '';
  await services.db.transaction().execute(async (trx) => {
    for (let start = 0; start < OTHER_PROJECTS; start += 500) {
      const names = Array.from({ length: Math.min(500, OTHER_PROJECTS - start) }, (_, i) => `other-project-${start + i}`);
      await trx
        .insertInto('projects')
        .values(names.map((name) => ({ name, normalized_name: name, created_at: now.toISOString(), serial: 1 })))
        .execute();
    }
    const project = await trx
      .insertInto('projects')
      .values({ name: PROJECT, normalized_name: PROJECT, created_at: now.toISOString(), serial: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    let logIndex = 0;
    for (let i = 0; i < RELEASES; i++) {
      const version = `${Math.floor(i / 100)}.${Math.floor(i / 10) % 10}.${i % 10}`;
      latestVersion = version;
      const created = new Date(now.getTime() + i * 86_400_000).toISOString();
      const info = {
        name: PROJECT,
        version,
        summary: 'A project with a long release history',
        description: README,
        description_content_type: 'text/markdown',
        project_urls: { Source: REPOSITORY, Documentation: 'https://big-project.example.org/' },
        requires_python: '>=3.9',
        license: 'MIT',
        author: 'Big Org',
      };
      const release = await trx
        .insertInto('releases')
        .values({
          project_id: project.id,
          version,
          summary: info.summary,
          requires_python: '>=3.9',
          info_json: JSON.stringify(info),
          yanked: i % 97 === 5 ? 1 : 0,
          yanked_reason: i % 97 === 5 ? 'broken build' : null,
          created_at: created,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const commit = sha(`commit ${i}`).slice(0, 40);
      const dist = PROJECT.replace(/-/g, '_');
      const files = [`${dist}-${version}-py3-none-any.whl`, `${dist}-${version}.tar.gz`].map((filename) => {
        const digest = sha(filename);
        return {
          project_id: project.id,
          release_id: release.id,
          filename,
          packagetype: filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
          python_version: filename.endsWith('.whl') ? 'py3' : 'source',
          size: 20_000 + i,
          sha256: digest,
          md5: digest.slice(0, 32),
          blake2b_256: sha(`b ${filename}`),
          requires_python: '>=3.9',
          core_metadata: `Metadata-Version: 2.1\nName: ${PROJECT}\nVersion: ${version}\n`,
          core_metadata_sha256: sha(`m ${filename}`),
          upload_time: created,
          uploaded_by_token_id: null,
        };
      });
      const inserted = await trx.insertInto('files').values(files).returning(['id', 'filename', 'sha256']).execute();
      // Most releases carry build provenance; a few early ones none, so every state is exercised.
      if (i < 20) continue;
      await trx
        .insertInto('attestations')
        .values(
          inserted.map((f) => ({
            file_id: f.id,
            kind: 'build' as const,
            predicate_type: 'https://slsa.dev/provenance/v1',
            raw_json: rawAttestation(f.filename, f.sha256, commit),
            statement_sha256: sha(`s ${f.filename}`),
            signer_issuer: ISSUER,
            signer_identity: BUILDER,
            facts_json: JSON.stringify(facts(commit, logIndex++)),
            publisher_json: null,
            submitted_before_upload: 1,
            bound_at: created,
          })),
        )
        .execute();
    }
  });
  return latestVersion;
}

interface Timing {
  median: number;
  p95: number;
  bytes: number;
}

async function measure(app: FastifyInstance, url: string, iterations: number): Promise<Timing> {
  let bytes = 0;
  // Warm-up: JIT, statement caches, the simple page cache and the description render cache.
  for (let i = 0; i < 20; i++) {
    const response = await app.inject({ method: 'GET', url });
    if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}`);
    bytes = response.rawPayload.length;
  }
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await app.inject({ method: 'GET', url });
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)]!, p95: samples[Math.floor(samples.length * 0.95)]!, bytes };
}

export async function runUiBench(): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), 'cairn-ui-bench-'));
  const services = await openServices(loadServerConfig({ dataDir: join(work, 'data') }, {}));
  try {
    const started = performance.now();
    const latest = await buildUiBenchCorpus(services);
    const corpusSeconds = (performance.now() - started) / 1000;
    const app = await buildApp(services);
    await app.ready();

    const targets: [string, string][] = [
      ['baseline: /simple/{project}/ (HTML, cached)', `/simple/${PROJECT}/`],
      ['project page /project/{project}/', `/project/${PROJECT}/`],
      ['release page /project/{project}/{latest}/', `/project/${PROJECT}/${latest}/`],
      ['release page, oldest release', `/project/${PROJECT}/0.0.0/`],
      ['JSON API /pypi/{project}/json', `/pypi/${PROJECT}/json`],
      ['home /', '/'],
      ['search /search?q=project', '/search?q=project'],
    ];
    const timings: Record<string, Timing> = {};
    for (const [label, url] of targets) timings[label] = await measure(app, url, ITERATIONS);
    const baseline = timings[targets[0]![0]]!;

    const lines = [
      `Corpus: one project with ${RELEASES} releases × 2 files (build provenance on ${RELEASES - 20} releases), plus ${OTHER_PROJECTS} other projects; built in ${corpusSeconds.toFixed(1)} s.`,
      `Server time per request via fastify \`inject\` (no network), ${ITERATIONS} requests after 20 warm-up requests, SQLite.`,
      '',
      '| page | median ms | p95 ms | body bytes | median vs baseline |',
      '|---|---|---|---|---|',
      ...targets.map(([label]) => {
        const t = timings[label]!;
        return `| ${label} | ${t.median.toFixed(2)} | ${t.p95.toFixed(2)} | ${t.bytes} | ${(t.median / baseline.median).toFixed(1)}× |`;
      }),
    ];
    for (const line of lines) console.log(line);
    await app.close();
    const project = timings[targets[1]![0]]!;
    const release = timings[targets[2]![0]]!;
    return {
      lines,
      releases: RELEASES,
      timings,
      projectPageMedianMs: project.median,
      projectPageP95Ms: project.p95,
      releasePageMedianMs: release.median,
      releasePageP95Ms: release.p95,
      baselineMedianMs: baseline.median,
      ratios: { projectPage: project.median / baseline.median, releasePage: release.median / baseline.median },
      goalMet: project.p95 < 50 && release.p95 < 50,
    };
  } finally {
    await services.close();
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runUiBench();
  console.log(`goal (p95 < 50 ms for project and release pages) met: ${String(result.goalMet)}`);
}
