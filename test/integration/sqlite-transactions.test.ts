import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/server/storage/database.ts';

/**
 * A transaction that reads, then writes, while another connection writes in between (what the
 * TUF worker thread does beside every upload and provenance submission). Begun DEFERRED, SQLite
 * refuses the late write at once with SQLITE_BUSY_SNAPSHOT; begun IMMEDIATE, the other writer
 * waits its busy_timeout and both succeed.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-sqlite-tx-'));
after(() => rmSync(work, { recursive: true, force: true }));
const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

/** Another process writing one row, waiting up to 5 s for the lock as cairn's connections do. */
function writeFromAnotherProcess(path: string): Promise<{ status: number | null; output: string }> {
  const script = `const Database = require(${JSON.stringify(BETTER_SQLITE3)}); const db = new Database(${JSON.stringify(path)}); db.pragma('busy_timeout = 5000'); db.prepare("insert into projects (name, normalized_name, created_at) values ('other', 'other', '2026-01-01T00:00:00Z')").run(); db.close();`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (status) => resolve({ status, output }));
  });
}

test('a read-then-write transaction and a concurrent writer both succeed on SQLite', async () => {
  const path = join(work, 'cairn.sqlite');
  const opened = await openDatabase(`sqlite:${path}`);
  try {
    let other: Promise<{ status: number | null; output: string }> | undefined;
    await opened.db.transaction().execute(async (trx) => {
      await trx.selectFrom('projects').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      other = writeFromAnotherProcess(path);
      // Long enough for the other process to have written, had nothing held the lock.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await trx.insertInto('projects').values({ name: 'mine', normalized_name: 'mine', created_at: '2026-01-01T00:00:00Z', serial: 0 }).execute();
    });
    const written = await other!;
    assert.equal(written.status, 0, written.output);
    const names = await sql<{ normalized_name: string }>`select normalized_name from projects order by id`.execute(opened.db);
    assert.deepEqual(names.rows.map((r) => r.normalized_name), ['mine', 'other'], 'the other writer waited for the transaction');
  } finally {
    await opened.close();
  }
});
