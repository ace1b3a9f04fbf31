import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CairnError } from '../../src/errors.ts';
import { waitForLock } from '../../src/server/storage/sqlite-lock-wait.ts';

function sqliteError(code: string): Error {
  return Object.assign(new Error(`${code}: database is locked`), { code });
}

test('a statement that meets SQLITE_BUSY is tried again until it runs', async () => {
  let tries = 0;
  const value = await waitForLock(() => {
    if (++tries < 4) throw sqliteError('SQLITE_BUSY');
    return 'written';
  });
  assert.equal(value, 'written');
  assert.equal(tries, 4);
});

test('a lock held past the wait limit ends as database.unavailable, naming SQLITE_BUSY', async () => {
  let tries = 0;
  const started = performance.now();
  await assert.rejects(
    waitForLock(() => {
      tries++;
      throw sqliteError('SQLITE_BUSY');
    }, 60),
    (error: unknown) => {
      assert.ok(error instanceof CairnError);
      assert.equal(error.code, 'database.unavailable');
      assert.equal(error.details?.code, 'SQLITE_BUSY');
      assert.match(error.message, /stayed locked by another writer/);
      return true;
    },
  );
  assert.ok(performance.now() - started >= 55, 'it waited for the limit');
  assert.ok(tries > 2, `tried ${tries} times`);
});

test('other failures, SQLITE_BUSY_SNAPSHOT among them, are not retried', async () => {
  for (const code of ['SQLITE_BUSY_SNAPSHOT', 'SQLITE_CONSTRAINT_UNIQUE']) {
    let tries = 0;
    await assert.rejects(
      waitForLock(() => {
        tries++;
        throw sqliteError(code);
      }),
      (error: unknown) => (error as { code?: string }).code === code,
    );
    assert.equal(tries, 1, code);
  }
});
