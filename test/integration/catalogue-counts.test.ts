import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Migrator, sql, type Kysely } from 'kysely';
import { openDatabase } from '../../src/server/storage/database.ts';
import { migrationProvider } from '../../src/server/storage/migrations.ts';
import type { Database } from '../../src/server/storage/schema.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { basicAuth, startTestServer, testEngines } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * `/metrics` and the home page read the catalogue's size from counters kept by triggers
 * (migration 0012), not from count(*) over whole tables: the counters must agree with the tables
 * through every kind of change, and a rolled-back change must not move them.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-counts-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function counted(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db.selectFrom('catalogue_counts').select(['table_name', 'n']).execute();
  return Object.fromEntries(rows.map((row) => [row.table_name, Number(row.n)]).sort());
}

async function actual(db: Kysely<Database>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ['attestations', 'files', 'projects', 'releases'] as const) {
    out[table] = Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  }
  return out;
}

for (const { engine, skip } of await testEngines()) describe(`catalogue counts (${engine})`, { skip }, () => {
  test('follow uploads, a refused upload and a deleted release; /metrics and the home page show them', async () => {
    const server = await startTestServer(engine);
    try {
      const db = server.services.db;
      const auth = basicAuth(await server.token('new_projects'));
      const dir = mkdtempSync(join(work, `${engine}-`));
      for (const [name, version, kind] of [['counted-a', '1.0', 'wheel'], ['counted-a', '1.0', 'sdist'], ['counted-a', '2.0', 'wheel'], ['counted-b', '1.0', 'wheel']] as const) {
        assert.equal((await uploadFile(server.url, makeDistribution(dir, { name, version, kind }).path, auth)).status, 200);
      }
      assert.deepEqual(await counted(db), { attestations: 0, files: 4, projects: 2, releases: 3 });
      // Refused after the transaction wrote the project, release and file rows: rolled back, not counted.
      const clash = makeDistribution(mkdtempSync(join(work, `${engine}-clash-`)), { name: 'counted-b', version: '1.0', kind: 'wheel', payload: 'other = 1\n' });
      assert.equal((await uploadFile(server.url, clash.path, auth)).status, 400);
      assert.deepEqual(await counted(db), await actual(db));
      await server.services.index.deleteRelease('counted-a', '1.0');
      assert.deepEqual(await counted(db), { attestations: 0, files: 2, projects: 2, releases: 2 });
      assert.deepEqual(await counted(db), await actual(db));

      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /\ncairn_files 2\n/);
      assert.match(metrics, /\ncairn_projects 2\n/);
      const home = await (await fetch(`${server.url}/`)).text();
      for (const label of ['Projects', 'Releases', 'Files']) assert.match(home, new RegExp(`<dt>${label}</dt><dd>2</dd>`));
    } finally {
      await server.stop();
    }
  });

  test('the migration counts what a database held before it', async () => {
    const database = engine === 'postgres' ? await createTestDatabase() : null;
    const url = database?.url ?? `sqlite:${join(work, 'before-0012.sqlite')}`;
    try {
      const opened = await openDatabase(url, { migrate: false });
      try {
        const migrator = new Migrator({ db: opened.db as unknown as Kysely<unknown>, provider: migrationProvider(opened.dialect) });
        assert.equal((await migrator.migrateTo('0011_publishing_sessions')).error, undefined);
        const now = new Date().toISOString();
        for (let i = 0; i < 3; i++) {
          await sql`insert into projects (name, normalized_name, created_at) values (${`old-${i}`}, ${`old-${i}`}, ${now})`.execute(opened.db);
        }
        assert.equal((await migrator.migrateToLatest()).error, undefined);
        assert.deepEqual(await counted(opened.db), { attestations: 0, files: 0, projects: 3, releases: 0 });
        await sql`delete from projects where normalized_name = 'old-1'`.execute(opened.db);
        assert.deepEqual(await counted(opened.db), await actual(opened.db));
      } finally {
        await opened.close();
      }
    } finally {
      await database?.drop();
    }
  });
});
