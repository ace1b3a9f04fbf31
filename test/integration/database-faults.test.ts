import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { loadServerConfig } from '../../src/server/config.ts';
import { startServer } from '../../src/server/http/server.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { createTestDatabase, POSTGRES_ADMIN_URL, postgresAvailable } from '../support/postgres.ts';
import { skipUnless } from '../support/requirements.ts';
import { basicAuth, startTestServer } from '../support/server.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * PostgreSQL going away under a running index (issue 11, item 1): its connections terminated
 * while uploads use them, and a network partition between cairn and the database. The server
 * must survive, fail only the requests that needed the database with 503 `database.unavailable`
 * (never hang), and recover by itself.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-dbfault-'));
after(() => rmSync(work, { recursive: true, force: true }));
const skip = skipUnless(await postgresAvailable(), 'PostgreSQL at 127.0.0.1:5432');

async function terminateBackends(database: string): Promise<number> {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query('select pg_terminate_backend(pid) as done from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
    return rows.length;
  } finally {
    await admin.end();
  }
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await run();
  return { value, ms: performance.now() - start };
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: response.status, body: { text } };
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < withinMs) {
    if (await check()) return performance.now() - start;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what}: not within ${withinMs} ms`);
}

describe('PostgreSQL faults under a running index', { skip }, () => {
  test('backends terminated while uploads run: the server survives, failures are 503 database.unavailable, nothing answered 200 is lost, retries succeed', async (t) => {
    const server = await startTestServer('postgres');
    try {
      const database = new URL(server.config.databaseUrl).pathname.slice(1);
      const auth = basicAuth(await server.token('new_projects'));
      const files = Array.from({ length: 16 }, (_, i) => makeDistribution(work, { name: 'fault-pkg', version: `1.${i}`, kind: i % 2 ? 'sdist' : 'wheel' }));
      // Phase 1: backends terminated every 30 ms while the first eight uploads run.
      let uploading = true;
      let terminated = 0;
      const killer = (async () => {
        while (uploading) {
          terminated += await terminateBackends(database);
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
      })();
      const during = await Promise.all(files.slice(0, 8).map((f) => uploadFile(server.url, f.path, auth)));
      uploading = false;
      await killer;
      // Phase 2: the other eight, on the pool as it recovered by itself.
      const afterwards = await Promise.all(files.slice(8).map((f) => uploadFile(server.url, f.path, auth)));
      const answers = [...during, ...afterwards];
      t.diagnostic(`${terminated} backends terminated; during: ${during.filter((a) => a.status === 200).length} uploads answered 200, ${during.filter((a) => a.status === 503).length} answered 503; afterwards: ${afterwards.filter((a) => a.status === 200).length} of 8 answered 200`);
      assert.ok(terminated > 0, 'no backend was terminated');
      for (const answer of during) {
        assert.ok(answer.status === 200 || (answer.status === 503 && answer.body.code === 'database.unavailable'), JSON.stringify(answer));
      }
      assert.ok(during.some((a) => a.status === 503), 'no upload met a terminated connection');
      assert.deepEqual(afterwards.map((a) => a.status), afterwards.map(() => 200), JSON.stringify(afterwards));
      // The pool replaced its broken connections by itself.
      const health = await getJson(`${server.url}/healthz`);
      assert.equal(health.status, 200, JSON.stringify(health.body));
      const stored = new Set((await server.services.db.selectFrom('files').select('filename').execute()).map((r) => r.filename));
      files.forEach((f, i) => {
        if (answers[i]!.status === 200) assert.ok(stored.has(f.filename), `${f.filename} was answered 200 but is not stored`);
      });
      // Every refused upload goes in on a retry.
      for (const [i, f] of files.entries()) {
        if (answers[i]!.status === 200) continue;
        const retry = await uploadFile(server.url, f.path, auth);
        assert.equal(retry.status, 200, JSON.stringify(retry));
      }
      // An upload whose connection broke mid-transaction left its blob and intent for the recovery
      // sweep (its COMMIT might still have landed); the sweep never removes a referenced blob.
      await server.services.uploads.recoverInterruptedUploads({ olderThan: new Date(Date.now() + 60_000) });
      assert.deepEqual(await server.services.db.selectFrom('blob_intents').selectAll().execute(), []);
      const rows = await server.services.db.selectFrom('files').select(['filename', 'sha256']).execute();
      assert.equal(rows.length, files.length);
      for (const row of rows) assert.ok(await server.services.blobs.exists(row.sha256), `blob of ${row.filename} missing`);
      assert.deepEqual(readdirSync(join(server.dataDir, 'tmp')), [], 'temp files left behind');
      const page = await fetch(`${server.url}/simple/fault-pkg/`);
      assert.equal(page.status, 200);
      assert.equal((await page.text()).match(/<a /g)?.length, files.length);
    } finally {
      await server.stop();
    }
  });

  test('a partition between cairn and PostgreSQL: requests get 503 within the timeouts instead of hanging, /livez stays up, and the index recovers once it heals', async (t) => {
    const database = await createTestDatabase();
    const admin = new URL(database.url);
    const proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
    const dataDir = mkdtempSync(join(work, 'data-'));
    const proxied = new URL(database.url);
    proxied.port = String(proxy.port);
    const statementTimeoutMs = 1000;
    const connectTimeoutMs = 1000;
    const config = {
      ...loadServerConfig({ dataDir, port: 0, databaseUrl: proxied.toString() }, {}),
      postgresTimeouts: { statementTimeoutMs, connectTimeoutMs, keepAliveMs: 1000 },
    };
    const server = await startServer(config);
    try {
      const token = (await server.services.tokens.create({ scope: 'new_projects', projects: [], now: new Date() })).token;
      const auth = basicAuth(token);
      const first = makeDistribution(work, { name: 'partition-pkg', version: '1.0', kind: 'wheel' });
      assert.equal((await uploadFile(server.url, first.path, auth)).status, 200);
      assert.equal((await getJson(`${server.url}/healthz`)).status, 200);

      proxy.partition();
      // Longest wait: the client-side statement deadline (statement timeout + 2 s grace), or the connect timeout.
      const bound = statementTimeoutMs + 2000 + connectTimeoutMs + 1500;
      const ui = await timed(() => getJson(`${server.url}/project/partition-pkg/`));
      assert.equal(ui.value.status, 503, JSON.stringify(ui.value.body).slice(0, 300));
      assert.ok(ui.ms < bound, `UI page took ${ui.ms} ms`);
      const second = makeDistribution(work, { name: 'partition-pkg', version: '2.0', kind: 'wheel' });
      const refused = await timed(() => uploadFile(server.url, second.path, auth));
      assert.equal(refused.value.status, 503, JSON.stringify(refused.value));
      assert.equal(refused.value.body.code, 'database.unavailable');
      assert.ok(refused.ms < bound, `upload took ${refused.ms} ms`);
      const health = await timed(() => getJson(`${server.url}/healthz`));
      assert.equal(health.value.status, 503);
      assert.equal((health.value.body.database as { status: string }).status, 'down');
      assert.equal((health.value.body.blobs as { status: string }).status, 'ok');
      assert.ok(health.ms < 4000, `/healthz took ${health.ms} ms`);
      const live = await timed(() => getJson(`${server.url}/livez`));
      assert.equal(live.value.status, 200);
      assert.ok(live.ms < 500);

      proxy.heal();
      const recoveredIn = await waitFor('/healthz back to 200', async () => (await getJson(`${server.url}/healthz`)).status === 200, 15_000);
      const retried = await uploadFile(server.url, second.path, auth);
      assert.equal(retried.status, 200, JSON.stringify(retried));
      assert.equal((await getJson(`${server.url}/project/partition-pkg/`)).status, 200);
      assert.ok(recoveredIn < 15_000);
      t.diagnostic(`partition: UI page 503 after ${Math.round(ui.ms)} ms, upload 503 after ${Math.round(refused.ms)} ms, /healthz 503 after ${Math.round(health.ms)} ms, /livez ${Math.round(live.ms)} ms; healed: /healthz 200 after ${Math.round(recoveredIn)} ms`);

      // The connections drop at once (the proxy, or the database, goes away): same outcome.
      proxy.reset();
      const afterReset = await uploadFile(server.url, makeDistribution(work, { name: 'partition-pkg', version: '3.0', kind: 'wheel' }).path, auth);
      assert.ok(afterReset.status === 200 || afterReset.body.code === 'database.unavailable', JSON.stringify(afterReset));
      await waitFor('/healthz back to 200 after the reset', async () => (await getJson(`${server.url}/healthz`)).status === 200, 15_000);
      const files = await server.services.db.selectFrom('files').select('filename').execute();
      assert.ok(files.length >= 2);
    } finally {
      await server.close();
      await proxy.close();
      await database.drop();
    }
  });
});
