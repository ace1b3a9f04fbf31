import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { blake2b } from 'hash-wasm';
import pg from 'pg';
import { corpusProjectName, writeCorpus } from '../../bench/corpus.ts';
import { openServices } from '../../src/server/composition.ts';
import { loadServerConfig } from '../../src/server/config.ts';
import { startServer } from '../../src/server/http/server.ts';
import { CAIRN_BIN, runCommand, type CommandResult } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { buildDistributions, createVenv, PIP_ENV, writeSampleProject } from '../support/python-projects.ts';
import { hasPythonBuildTools, skipUnless } from '../support/requirements.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * `cairn admin import` as an operator runs it: directories of distributions in, refusals reported
 * by code, the rest served by the index exactly as if uploaded; re-runs and crashes included.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-import-'));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * As root, permission bits do not stop reads; the import then runs without the capabilities that
 * bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), as any other user would.
 */
const AS_ROOT = process.getuid?.() === 0;
const DROP_DAC = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search'];

interface ImportJson {
  imported: number;
  present: string[];
  refused: { path: string; filename: string; code: string; message: string }[];
  projects_created: number;
}

function runImport(server: { dataDir: string; config: { databaseUrl: string } }, args: string[]): Promise<CommandResult & { json: ImportJson | null }> {
  const cli = [CAIRN_BIN, 'admin', 'import', ...args, '--data-dir', server.dataDir, '--database-url', server.config.databaseUrl, '--json'];
  const run = AS_ROOT ? runCommand('setpriv', [...DROP_DAC, process.execPath, ...cli]) : runCommand(process.execPath, cli);
  return run.then((result) => {
    let json: ImportJson | null = null;
    try {
      json = JSON.parse(result.stdout) as ImportJson;
    } catch {
      json = null;
    }
    return { ...result, json };
  });
}

/** The nice value of each thread of a process, by name, from /proc (field 19 of stat; the name in parentheses may hold spaces). */
function threadNices(pid: number): { thread: string; nice: number }[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return [{ thread: `${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))} (${tid})`, nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) }];
    } catch {
      return []; // a thread that ended meanwhile
    }
  });
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

function blobPath(dataDir: string, digest: string): string {
  return join(dataDir, 'blobs', 'sha256', digest.slice(0, 2), digest.slice(2, 4), digest);
}

for (const { engine, skip } of await testEngines()) {
  describe(`cairn admin import on ${engine}`, { skip }, () => {
    let server: TestServer;
    const input = join(work, `input-${engine}`);
    const outside = join(work, `outside-${engine}`);
    const good = new Map<string, Buffer>();
    const bad = new Map<string, { code: string; bytes: Buffer | null }>();

    before(async () => {
      server = await startTestServer(engine);
      mkdirSync(join(input, 'alpha'), { recursive: true });
      mkdirSync(join(input, 'zz-second-copy'), { recursive: true });
      mkdirSync(outside, { recursive: true });
      const scratch = mkdtempSync(join(work, 'scratch-'));
      const place = (relativePath: string, dist: { path: string }) => {
        renameSync(dist.path, join(input, relativePath));
        return readFileSync(join(input, relativePath));
      };

      // pypiserver's layouts: one directory per project, and files at the top.
      for (const [path, spec] of [
        ['alpha/alpha_pkg-1.0-py3-none-any.whl', { name: 'alpha-pkg', version: '1.0', kind: 'wheel' }],
        ['alpha/alpha_pkg-1.0.tar.gz', { name: 'alpha-pkg', version: '1.0', kind: 'sdist' }],
        ['beta_pkg-2.0-py3-none-any.whl', { name: 'Beta.Pkg', version: '2.0', kind: 'wheel', extraHeaders: 'Requires-Python: >=3.8\n' }],
      ] as const) {
        good.set(path, place(path, makeDistribution(scratch, { ...spec, summary: `good ${path}` })));
      }

      // A file already on the index (uploaded by its owner) and another file of that name here.
      const owner = await server.token('new_projects');
      const uploaded = makeDistribution(scratch, { name: 'gamma-pkg', version: '1.0', kind: 'wheel', summary: 'the uploaded one' });
      assert.equal((await uploadFile(server.url, uploaded.path, basicAuth(owner))).status, 200);
      rmSync(uploaded.path);
      bad.set('gamma_pkg-1.0-py3-none-any.whl', {
        code: 'upload.file_exists',
        bytes: place('gamma_pkg-1.0-py3-none-any.whl', makeDistribution(scratch, { name: 'gamma-pkg', version: '1.0', kind: 'wheel', summary: 'another build' })),
      });
      // The same filename twice in the input, with other bytes: the first in walk order wins.
      bad.set('zz-second-copy/alpha_pkg-1.0.tar.gz', {
        code: 'upload.file_exists',
        bytes: place('zz-second-copy/alpha_pkg-1.0.tar.gz', makeDistribution(scratch, { name: 'alpha-pkg', version: '1.0', kind: 'sdist', summary: 'a rebuild' })),
      });
      // A wheel whose metadata names another project.
      bad.set('other_name-1.0-py3-none-any.whl', {
        code: 'upload.metadata_mismatch',
        bytes: place('other_name-1.0-py3-none-any.whl', makeDistribution(scratch, { name: 'someone-else', version: '1.0', kind: 'wheel' })),
      });
      // A corrupt zip: a wheel cut short.
      const whole = makeDistribution(scratch, { name: 'corrupt-pkg', version: '1.0', kind: 'wheel' });
      writeFileSync(join(input, 'corrupt_pkg-1.0-py3-none-any.whl'), whole.bytes.subarray(0, whole.bytes.length - 40));
      bad.set('corrupt_pkg-1.0-py3-none-any.whl', { code: 'upload.invalid_archive', bytes: readFileSync(join(input, 'corrupt_pkg-1.0-py3-none-any.whl')) });
      // Over the size limit given to the import (--max-upload-bytes 65536).
      bad.set('big_pkg-1.0-py3-none-any.whl', {
        code: 'upload.too_large',
        bytes: place('big_pkg-1.0-py3-none-any.whl', makeDistribution(scratch, { name: 'big-pkg', version: '1.0', kind: 'wheel', randomBytes: 100_000 })),
      });
      // A valid sdist outside the directory, reached through a symlink inside it.
      const escapee = makeDistribution(outside, { name: 'escape-pkg', version: '1.0', kind: 'sdist' });
      symlinkSync(escapee.path, join(input, 'escape_pkg-1.0.tar.gz'));
      bad.set('escape_pkg-1.0.tar.gz', { code: 'import.outside_directory', bytes: escapee.bytes });
      // A file the importing user may not read.
      const locked = place('locked_pkg-1.0.tar.gz', makeDistribution(scratch, { name: 'locked-pkg', version: '1.0', kind: 'sdist' }));
      chmodSync(join(input, 'locked_pkg-1.0.tar.gz'), 0o000);
      bad.set('locked_pkg-1.0.tar.gz', { code: 'import.unreadable', bytes: locked });
      // Not a distribution at all.
      writeFileSync(join(input, 'notes.txt'), 'mirror notes\n');
      bad.set('notes.txt', { code: 'filename.invalid', bytes: Buffer.from('mirror notes\n') });
      // A symlink to a file inside the tree is read as that file (and here names one already taken).
      symlinkSync(join('alpha', 'alpha_pkg-1.0-py3-none-any.whl'), join(input, 'alpha_pkg-1.0-py3-none-any.whl'));
    });
    after(async () => server?.stop());

    test('good files are imported, each bad one is refused with its code, and nothing of a bad one is stored', async () => {
      const result = await runImport(server, [input, '--max-upload-bytes', '65536', '--batch-size', '2']);
      assert.equal(result.status, 1, result.output);
      assert.match(result.stderr, /error \[import\.files_refused\]: 8 of 12 files were refused/);
      const report = result.json!;
      assert.deepEqual(
        Object.fromEntries(report.refused.map((r) => [relative(input, r.path), r.code])),
        Object.fromEntries([...bad].map(([path, { code }]) => [path, code])),
      );
      assert.equal(report.imported, 3);
      assert.equal(report.projects_created, 2);
      // Files before subdirectories: the link at the top is met first, and its target is the same file.
      assert.deepEqual(report.present.map((p) => relative(input, p)), ['alpha/alpha_pkg-1.0-py3-none-any.whl']);

      for (const [path, bytes] of good) {
        const filename = basename(path);
        const project = path.startsWith('alpha') ? 'alpha-pkg' : 'beta-pkg';
        // The server caches pages and reads ahead those the journal names: a change committed by
        // another process (this import's last batch) shows within one journal poll, not at once.
        type SimpleFile = { filename: string; url: string; hashes: { sha256: string }; 'core-metadata': { sha256: string } };
        const deadline = Date.now() + 5_000;
        let listed: SimpleFile | undefined;
        for (;;) {
          const page = (await (await fetch(`${server.url}/simple/${project}/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: SimpleFile[] };
          listed = page.files.find((f) => f.filename === filename);
          if (listed || Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(listed, `${filename} is listed on /simple/${project}/`);
        assert.equal(listed.hashes.sha256, sha256(bytes));
        const download = await fetch(new URL(listed.url, server.url));
        assert.equal(download.status, 200);
        assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);
        const metadata = Buffer.from(await (await fetch(new URL(`${listed.url}.metadata`, server.url))).arrayBuffer());
        assert.equal(sha256(metadata), listed['core-metadata'].sha256);

        const api = (await (await fetch(`${server.url}/pypi/${project}/json`)).json()) as { urls: { filename: string; digests: Record<string, string> }[] };
        const digests = api.urls.find((u) => u.filename === filename)?.digests;
        assert.deepEqual(digests, {
          md5: createHash('md5').update(bytes).digest('hex'),
          sha256: sha256(bytes),
          blake2b_256: await blake2b(bytes, 256),
        });
      }
      const root = await (await fetch(`${server.url}/simple/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json();
      assert.deepEqual((root as { projects: { name: string }[] }).projects.map((p) => p.name).sort(), ['Beta.Pkg', 'alpha-pkg', 'gamma-pkg']);

      const { db } = server.services;
      const rows = await db.selectFrom('files').select(['filename', 'sha256']).execute();
      assert.equal(rows.length, 4, 'the uploaded gamma file and the three imported ones');
      for (const [path, { bytes }] of bad) {
        if (!bytes) continue;
        assert.ok(!rows.some((r) => r.sha256 === sha256(bytes)), `no row for ${path}`);
        assert.ok(!existsSync(blobPath(server.dataDir, sha256(bytes))), `no blob for ${path}`);
      }
      const projects = (await db.selectFrom('projects').select('normalized_name').execute()).map((p) => p.normalized_name).sort();
      assert.deepEqual(projects, ['alpha-pkg', 'beta-pkg', 'gamma-pkg']);
      assert.equal(filesUnder(join(server.dataDir, 'blobs')).length, 4, 'a blob per file row, no other');
      assert.deepEqual(filesUnder(join(server.dataDir, 'tmp')), [], 'nothing staged is left');
      assert.equal((await db.selectFrom('blob_intents').selectAll().execute()).length, 0);
      const owners = await db.selectFrom('project_owners').innerJoin('projects', 'projects.id', 'project_owners.project_id').select('projects.normalized_name').execute();
      assert.deepEqual(owners.map((o) => o.normalized_name), ['gamma-pkg'], 'imported projects have no owner');
    });

    test('a re-run imports nothing again: files already there are reported present, the refusals again', async () => {
      const { db } = server.services;
      const serials = await db.selectFrom('projects').select(['normalized_name', 'serial']).orderBy('id').execute();
      const result = await runImport(server, [input, '--max-upload-bytes', '65536']);
      assert.equal(result.status, 1, result.output);
      const report = result.json!;
      assert.equal(report.imported, 0);
      assert.deepEqual(report.present.map((p) => relative(input, p)).sort(), [...good.keys(), 'alpha_pkg-1.0-py3-none-any.whl'].sort());
      assert.deepEqual(new Set(report.refused.map((r) => relative(input, r.path))), new Set(bad.keys()));
      assert.equal((await db.selectFrom('files').select('id').execute()).length, 4);
      assert.deepEqual(await db.selectFrom('projects').select(['normalized_name', 'serial']).orderBy('id').execute(), serials, 'no page was rendered again');
      assert.equal(filesUnder(join(server.dataDir, 'blobs')).length, 4);
      assert.deepEqual(filesUnder(join(server.dataDir, 'tmp')), []);

      const onlyGood = join(work, `only-good-${engine}`);
      mkdirSync(onlyGood, { recursive: true });
      for (const [path, bytes] of good) writeFileSync(join(onlyGood, basename(path)), bytes);
      const clean = await runImport(server, [onlyGood]);
      assert.equal(clean.status, 0, clean.output);
      assert.deepEqual({ ...clean.json!, present: clean.json!.present.length }, { ...clean.json!, imported: 0, present: 3, refused: [] });
    });

    test('a --nice outside 0 to 19, or a batch or transaction of no files, is a usage error before anything is read', async () => {
      const filesBefore = (await server.services.db.selectFrom('files').select('id').execute()).length;
      for (const nice of ['20', '-1', 'low']) {
        const result = await runImport(server, [input, '--nice', nice]);
        assert.equal(result.status, 2, result.output);
        assert.match(result.output, new RegExp(`usage\\.invalid_argument.*--nice is a whole number from 0 to 19, got '${nice}'`));
      }
      for (const flag of ['--batch-size', '--transaction-size']) {
        const result = await runImport(server, [input, flag, '0']);
        assert.equal(result.status, 2, result.output);
        assert.match(result.output, new RegExp(`usage\\.invalid_argument.*${flag} is a whole number of at least 1, got '0'`));
      }
      assert.equal((await server.services.db.selectFrom('files').select('id').execute()).length, filesBefore);
    });

    test('pip installs a project imported from a pip download directory', { skip: skipUnless(hasPythonBuildTools(), 'Debian python3-build, python3-setuptools and python3-venv') }, async () => {
      const project = writeSampleProject(work, { name: `imported-sample-${engine}`, version: '0.3.0', module: `imported_sample_${engine}`, backend: 'setuptools' });
      const downloads = join(work, `pip-download-${engine}`);
      buildDistributions(project, downloads);
      const result = await runImport(server, [downloads]);
      assert.equal(result.status, 0, result.output);
      assert.equal(result.json!.imported, 2);

      const venvDir = mkdtempSync(join(tmpdir(), 'cairn-venv-'));
      try {
        const venv = createVenv(venvDir);
        const install = await runCommand(venv.pip, ['install', '--index-url', `${server.url}/simple/`, `imported-sample-${engine}==0.3.0`], { env: PIP_ENV });
        assert.equal(install.status, 0, install.output);
        const imported = await runCommand(venv.python, ['-c', `import imported_sample_${engine} as m; print(m.hello())`]);
        assert.equal(imported.status, 0, imported.output);
        assert.match(imported.stdout, new RegExp(`hello from imported-sample-${engine}`));
      } finally {
        rmSync(venvDir, { recursive: true, force: true });
      }
    });
  });

  describe(`an import killed mid-way on ${engine}`, { skip }, () => {
    test('an import into a new database leaves serve nothing to catch up: pages and TUF targets are current', async () => {
      const dataDir = mkdtempSync(join(work, 'fresh-'));
      const database = engine === 'postgres' ? await createTestDatabase() : null;
      const databaseUrl = database?.url ?? `sqlite:${join(dataDir, 'cairn.sqlite')}`;
      const corpus = join(work, `fresh-corpus-${engine}`);
      await writeCorpus(corpus, { projects: 30, filesPerProject: 2, layout: 'per-project' });
      try {
        const child = spawn(process.execPath, [CAIRN_BIN, 'admin', 'import', corpus, '--data-dir', dataDir, '--database-url', databaseUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr.on('data', (d: Buffer) => (output += d.toString()));
        assert.equal(await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))), 0, output);
        const services = await openServices(loadServerConfig({ dataDir, databaseUrl }, {}));
        try {
          assert.equal(await services.changes.renderStale(), 0, 'no page to render at the first serve');
          assert.equal(await services.tufTargets.backfill(), 0, 'no TUF target to backfill at the first serve');
          assert.ok(await services.pages.projectPage(corpusProjectName(29), 'simple-json'), 'the import rendered the pages');
        } finally {
          await services.close();
        }
        if (database) {
          // The import leaves the planner statistics of the tables it grew (import-statistics.ts).
          const client = new pg.Client({ connectionString: databaseUrl });
          await client.connect();
          try {
            const { rows } = await client.query<{ relname: string; analysed: boolean; reltuples: number }>(
              `select s.relname, s.last_analyze is not null as analysed, c.reltuples::float8 as reltuples from pg_stat_user_tables s join pg_class c on c.oid = s.relid
               where s.relname in ('projects', 'releases', 'files', 'rendered_pages') order by s.relname`,
            );
            assert.deepEqual(
              rows.map((r) => [r.relname, r.analysed]),
              ['files', 'projects', 'releases', 'rendered_pages'].map((t) => [t, true]),
            );
            assert.equal(rows.find((r) => r.relname === 'files')!.reltuples, 60, "the planner knows the files table's size");
          } finally {
            await client.end();
          }
        }
      } finally {
        await database?.drop();
      }
    });

    test('SIGKILL leaves only whole files (row, blob and pages together); a re-run completes the import', async () => {
      const dataDir = mkdtempSync(join(work, 'killed-'));
      const database = engine === 'postgres' ? await createTestDatabase() : null;
      const databaseUrl = database?.url ?? `sqlite:${join(dataDir, 'cairn.sqlite')}`;
      const corpus = join(work, `corpus-${engine}`);
      const PROJECTS = 400;
      const FILES = 10;
      await writeCorpus(corpus, { projects: PROJECTS, filesPerProject: FILES, layout: 'per-project' });
      try {
        // Migrated before the child starts, so the count below can be polled from its first batch.
        await (await openServices(loadServerConfig({ dataDir, databaseUrl }, {}))).close();
        const countFiles = fileCounter(databaseUrl);
        const child = spawn(process.execPath, [CAIRN_BIN, 'admin', 'import', corpus, '--data-dir', dataDir, '--database-url', databaseUrl, '--batch-size', '200', '--transaction-size', '50', '--jobs', '1'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr.on('data', (d: Buffer) => (output += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        let committed = 0;
        const deadline = Date.now() + 120_000;
        while (committed < 300 && Date.now() < deadline && child.exitCode === null) {
          await new Promise((r) => setTimeout(r, 20));
          committed = await countFiles.count();
        }
        // A bulk import is background work: it runs below the priority of a serving index (--nice,
        // default 10), every thread of it (V8's collector threads, started with the process, too).
        if (existsSync(`/proc/${child.pid}/task`)) {
          const threads = threadNices(child.pid!);
          assert.ok(threads.length > 3, `the import's threads: ${JSON.stringify(threads)}`);
          assert.deepEqual(threads.filter((t) => t.nice < 10), [], 'every thread of the import lowered its CPU priority');
        }
        child.kill('SIGKILL');
        await exited;
        await countFiles.close();
        assert.ok(committed >= 300 && committed < PROJECTS * FILES, `killed after some batches and before the end (${committed} files; ${output})`);

        let filesBefore: number;
        const services = await openServices(loadServerConfig({ dataDir, databaseUrl }, {}));
        try {
          const files = await services.db.selectFrom('files').innerJoin('projects', 'projects.id', 'files.project_id').select(['files.filename', 'files.sha256', 'projects.normalized_name']).execute();
          filesBefore = files.length;
          // Batches of 200 files are flushed at once and inserted 50 at a time: whole transactions only.
          assert.ok(files.length >= committed && files.length % 50 === 0, `whole transactions only: ${files.length}`);
          for (const file of files) {
            assert.equal(sha256(readFileSync(blobPath(dataDir, file.sha256))), file.sha256, `${file.filename} has its whole blob`);
          }
          const byProject = new Map<string, string[]>();
          for (const file of files) byProject.set(file.normalized_name, [...(byProject.get(file.normalized_name) ?? []), file.filename]);
          for (const [name, filenames] of byProject) {
            const page = await services.pages.projectPage(name, 'simple-json');
            assert.ok(page, `${name} has its pages`);
            const listed = (JSON.parse(gunzipSync(page.gzip).toString('utf8')) as { files: { filename: string }[] }).files.map((f) => f.filename);
            assert.deepEqual(listed.sort(), filenames.sort(), `the page of ${name} lists exactly its committed files`);
          }
          // Blobs of the batch in flight are either committed or still under an intent that recovery honours.
          const referenced = new Set(files.map((f) => f.sha256));
          const intents = new Set((await services.db.selectFrom('blob_intents').select('sha256').execute()).map((i) => i.sha256));
          for (const blob of filesUnder(join(dataDir, 'blobs'))) {
            assert.ok(referenced.has(basename(blob)) || intents.has(basename(blob)), `${basename(blob)} is referenced or recoverable`);
          }
        } finally {
          await services.close();
        }

        const rerun = await runImport({ dataDir, config: { databaseUrl } }, [corpus]);
        assert.equal(rerun.status, 0, rerun.output);
        assert.equal(rerun.json!.present.length, filesBefore, 'what the killed import committed is present');
        assert.equal(rerun.json!.imported, PROJECTS * FILES - filesBefore);
        // One instance owns this database: start-up recovery need not wait for another to commit.
        const restarted = await startServer(loadServerConfig({ dataDir, databaseUrl, port: 0 }, { CAIRN_RECOVERY_GRACE_SECONDS: '0' }));
        try {
          const counts = await restarted.services.index.counts();
          assert.deepEqual(counts, { projects: PROJECTS, releases: PROJECTS * (FILES / 2), files: PROJECTS * FILES, attestations: 0 });
          assert.equal((await restarted.services.db.selectFrom('blob_intents').selectAll().execute()).length, 0);
          assert.equal(filesUnder(join(dataDir, 'blobs')).length, PROJECTS * FILES, 'no orphan blob');
          assert.deepEqual(filesUnder(join(dataDir, 'tmp')), [], 'nothing staged is left after a restart');
          const root = (await (await fetch(`${restarted.url}/simple/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { projects: unknown[] };
          assert.equal(root.projects.length, PROJECTS);
        } finally {
          await restarted.close();
        }
      } finally {
        await database?.drop();
      }
    });
  });
}

/** Counts committed file rows from outside the importing process, while it runs. */
function fileCounter(databaseUrl: string): { count(): Promise<number>; close(): Promise<void> } {
  if (databaseUrl.startsWith('sqlite:')) {
    const sqlite = new BetterSqlite3(databaseUrl.slice('sqlite:'.length), { readonly: true });
    const statement = sqlite.prepare('select count(*) as n from files');
    return {
      count: async () => (statement.get() as { n: number }).n,
      close: async () => {
        sqlite.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  const connected = client.connect();
  return {
    count: async () => {
      await connected;
      return Number((await client.query<{ n: string }>('select count(*) as n from files')).rows[0]!.n);
    },
    close: () => client.end(),
  };
}
