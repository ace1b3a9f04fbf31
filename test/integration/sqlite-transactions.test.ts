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

/**
 * Another process takes the write lock, writes project `holder` and keeps the lock for `holdMs`.
 * Resolves once it holds the lock, with the promise of its exit.
 */
async function holdWriteLock(path: string, holder: string, holdMs: number): Promise<{ exited: Promise<{ status: number | null; output: string }> }> {
  const script = `const Database = require(${JSON.stringify(BETTER_SQLITE3)}); const db = new Database(${JSON.stringify(path)}); db.pragma('busy_timeout = 5000');
db.exec('begin immediate'); db.prepare("insert into projects (name, normalized_name, created_at) values (?, ?, '2026-01-01T00:00:00Z')").run(${JSON.stringify(holder)}, ${JSON.stringify(holder)});
process.stdout.write('locked\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${holdMs}); db.exec('commit'); db.close();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<{ status: number | null; output: string }>((resolve) => child.on('close', (status) => resolve({ status, output })));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('locked')) resolve();
    });
    void exited.then(() => reject(new Error(`the lock holder exited first: ${output}`)));
  });
  return { exited };
}

/** Counts the turns of a 5 ms interval while `work` runs: a thread asleep in SQLite's busy handler turns none. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  const interval = setInterval(() => turns++, 5);
  try {
    const value = await work();
    return { value, turns };
  } finally {
    clearInterval(interval);
  }
}

test('a write that waits for another connection lock keeps the event loop turning, outside and inside a transaction', async () => {
  const path = join(work, 'lock-wait.sqlite');
  const opened = await openDatabase(`sqlite:${path}`);
  try {
    // A write outside a transaction (as the last use of an API token is recorded).
    let holder = await holdWriteLock(path, 'first-holder', 400);
    const single = await turnsDuring(() => opened.db.insertInto('projects').values({ name: 'single', normalized_name: 'single', created_at: '2026-01-01T00:00:00Z', serial: 0 }).execute());
    assert.equal((await holder.exited).status, 0);
    assert.ok(single.turns >= 10, `the event loop turned ${single.turns} times in a 400 ms wait for the lock`);

    // BEGIN IMMEDIATE of a transaction (as an upload begins).
    holder = await holdWriteLock(path, 'second-holder', 400);
    const transaction = await turnsDuring(() =>
      opened.db.transaction().execute((trx) => trx.insertInto('projects').values({ name: 'inside', normalized_name: 'inside', created_at: '2026-01-01T00:00:00Z', serial: 0 }).execute()),
    );
    assert.equal((await holder.exited).status, 0);
    assert.ok(transaction.turns >= 10, `the event loop turned ${transaction.turns} times in a 400 ms wait for the lock`);

    const names = await sql<{ normalized_name: string }>`select normalized_name from projects order by id`.execute(opened.db);
    assert.deepEqual(
      names.rows.map((r) => r.normalized_name),
      ['first-holder', 'single', 'second-holder', 'inside'],
      'each write landed after the holder committed',
    );
  } finally {
    await opened.close();
  }
});
