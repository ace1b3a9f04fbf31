import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Updater } from 'tuf-js';
import { openDatabase } from '../../src/server/storage/database.ts';
import { BackgroundTuf } from '../../src/server/tuf/background-tuf.ts';
import { TufRepository, DEFAULT_TUF_SETTINGS } from '../../src/server/tuf/tuf-repository.ts';
import { TufTargets } from '../../src/server/tuf/tuf-targets.ts';
import { binOf, hashedBinLayout } from '../../src/tuf/hashed-bins.ts';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * PEP 458 end to end: the index publishes TUF metadata, and tuf-js (a real TUF client) trusting
 * only a root.json pinned once verifies downloads from the index, notices new uploads, and refuses
 * what a man in the middle or a misbehaving mirror serves.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-tuf-'));
after(() => rmSync(work, { recursive: true, force: true }));

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const targetPathOf = (dist: { bytes: Buffer; filename: string }) => `files/${sha256(dist.bytes)}/${dist.filename}`;

/** A mirror (or a man in the middle) in front of the index: forwards everything, lets a test rewrite answers. */
async function startMirror(
  upstream: string,
  rewrite: (path: string, body: Buffer) => Buffer | undefined,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      const answer = await fetch(`${upstream}${request.url}`);
      const body = Buffer.from(await answer.arrayBuffer());
      const replaced = answer.ok ? rewrite(request.url ?? '', body) : undefined;
      const out = replaced ?? body;
      response.writeHead(answer.status, { 'Content-Type': answer.headers.get('content-type') ?? 'application/octet-stream', 'Content-Length': out.length });
      response.end(out);
    })().catch(() => {
      response.writeHead(502).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function failsWith(name: string, message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof Error, `an Error, got ${String(error)}`);
    assert.equal(error.constructor.name, name, `${error.constructor.name}: ${error.message}`);
    assert.match(error.message, message);
    return true;
  };
}

for (const { engine, skip } of await testEngines()) {
  describe(`TUF metadata (${engine})`, { skip }, () => {
    let server: TestServer;
    let auth: string;
    let pinnedRoot: Buffer;
    const dir = mkdtempSync(join(work, `${engine}-`));
    const wheel = makeDistribution(dir, { name: 'tuf-demo', version: '1.0', kind: 'wheel' });
    const sdist = makeDistribution(dir, { name: 'tuf-demo', version: '1.0', kind: 'sdist' });
    const later = makeDistribution(dir, { name: 'tuf-demo', version: '2.0', kind: 'wheel', payload: 'x = 2\n' });
    let clients = 0;

    /** A client as PEP 458 describes one: it ships the pinned root and persists what it verified. */
    function client(baseUrl: string, metadataDir?: string): { updater: Updater; metadataDir: string; targetDir: string } {
      const id = ++clients;
      const mdDir = metadataDir ?? join(dir, `client-${id}-metadata`);
      if (!metadataDir) {
        mkdirSync(mdDir);
        writeFileSync(join(mdDir, 'root.json'), pinnedRoot);
      }
      const targetDir = join(dir, `client-${id}-targets`);
      mkdirSync(targetDir);
      const updater = new Updater({
        metadataDir: mdDir,
        metadataBaseUrl: `${baseUrl}/tuf`,
        targetDir,
        targetBaseUrl: `${baseUrl}/`,
        // Target paths already carry the sha256 (files/<sha256>/<name>): no hash-prefixed copies.
        config: { prefixTargetsWithHash: false, fetchRetry: 0 },
      });
      return { updater, metadataDir: mdDir, targetDir };
    }

    const persistedTimestamp = (metadataDir: string) =>
      JSON.parse(readFileSync(join(metadataDir, 'timestamp.json'), 'utf8')) as { signed: { version: number; meta: Record<string, { version: number }> } };

    before(async () => {
      server = await startTestServer(engine);
      auth = basicAuth(await server.token('new_projects'));
      assert.equal((await uploadFile(server.url, wheel.path, auth)).status, 200);
      // Trust on first use, once: a real client ships this file.
      const response = await fetch(`${server.url}/tuf/root.json`);
      assert.equal(response.status, 200);
      pinnedRoot = Buffer.from(await response.arrayBuffer());
    });
    after(async () => server?.stop());

    test('metadata is served with caching fit for each file, and nothing else under /tuf/', async () => {
      const timestamp = await fetch(`${server.url}/tuf/timestamp.json`);
      assert.equal(timestamp.status, 200);
      assert.equal(timestamp.headers.get('cache-control'), 'public, max-age=60');
      assert.match(timestamp.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await timestamp.json()) as { signed: { _type: string; meta: Record<string, { version: number }> } };
      assert.equal(body.signed._type, 'timestamp');
      const snapshotVersion = body.signed.meta['snapshot.json']!.version;
      const snapshot = await fetch(`${server.url}/tuf/${snapshotVersion}.snapshot.json`);
      assert.equal(snapshot.status, 200);
      assert.equal(snapshot.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      const etag = snapshot.headers.get('etag')!;
      assert.equal((await fetch(`${server.url}/tuf/${snapshotVersion}.snapshot.json`, { headers: { 'If-None-Match': etag } })).status, 304);
      const root1 = await fetch(`${server.url}/tuf/1.root.json`);
      assert.deepEqual(Buffer.from(await root1.arrayBuffer()), pinnedRoot);
      assert.equal((await fetch(`${server.url}/tuf/root.json`)).headers.get('cache-control'), 'no-cache');
      assert.equal((await fetch(`${server.url}/tuf/1.bins.json`)).status, 200);

      // A root that does not exist yet is a 404: that is how a client learns it has the newest root.
      const missing = await fetch(`${server.url}/tuf/2.root.json`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { code: string }).code, 'request.not_found');
      for (const probe of ['online.json', '..%2Fkeys%2Fonline.json', '1.keys.json', 'refresh.lock', '01.root.json']) {
        const response = await fetch(`${server.url}/tuf/${probe}`);
        assert.equal(response.status, 404, probe);
        assert.doesNotMatch(await response.text(), /PRIVATE KEY/);
      }
    });

    test('tuf-js pinned to root.json finds, downloads and verifies a distribution; an unknown target is absent', async () => {
      const { updater, targetDir } = client(server.url);
      await updater.refresh();
      const info = await updater.getTargetInfo(targetPathOf(wheel));
      assert.ok(info, 'the uploaded wheel is a target');
      assert.equal(info.length, wheel.bytes.length);
      assert.deepEqual(info.hashes, { sha256: sha256(wheel.bytes) });
      assert.match(String(info.custom.blake2b_256), /^[0-9a-f]{64}$/);
      const path = await updater.downloadTarget(info, join(targetDir, wheel.filename));
      assert.deepEqual(readFileSync(path), wheel.bytes);

      assert.equal(await updater.getTargetInfo(`files/${sha256(wheel.bytes)}/tuf_demo-9.9-py3-none-any.whl`), undefined);
      assert.equal(await updater.getTargetInfo(`files/${'0'.repeat(64)}/${wheel.filename}`), undefined);
    });

    test('the PEP 658 metadata file is a target too: tuf-js verifies what pip reads first, and refuses it altered', async () => {
      const metadataPath = `${targetPathOf(wheel)}.metadata`;
      const served = Buffer.from(await (await fetch(`${server.url}/${metadataPath}`)).arrayBuffer());
      const { updater, targetDir } = client(server.url);
      await updater.refresh();
      const info = await updater.getTargetInfo(metadataPath);
      assert.ok(info, 'the wheel\'s .metadata is a target');
      assert.equal(info.length, served.length);
      assert.deepEqual(info.hashes, { sha256: sha256(served) });
      assert.deepEqual(readFileSync(await updater.downloadTarget(info, join(targetDir, 'METADATA'))), served);

      const mitm = await startMirror(server.url, (path, body) => (path === `/${metadataPath}` ? Buffer.from(body.toString().replace('Version:', 'Version:  ')) : undefined));
      try {
        const other = client(mitm.url);
        const altered = await other.updater.getTargetInfo(metadataPath);
        assert.ok(altered);
        await assert.rejects(other.updater.downloadTarget(altered, join(other.targetDir, 'METADATA')), /length|hash/i);
      } finally {
        await mitm.close();
      }
    });

    test('a new upload reaches a returning client as a new snapshot carrying the new target', async () => {
      const { updater, metadataDir } = client(server.url);
      await updater.refresh();
      const before = persistedTimestamp(metadataDir).signed;
      assert.equal((await uploadFile(server.url, sdist.path, auth)).status, 200);

      const returning = client(server.url, metadataDir);
      await returning.updater.refresh();
      const now = persistedTimestamp(metadataDir).signed;
      assert.ok(now.version > before.version, `timestamp ${before.version} → ${now.version}`);
      assert.ok(now.meta['snapshot.json']!.version > before.meta['snapshot.json']!.version);
      const info = await returning.updater.getTargetInfo(targetPathOf(sdist));
      assert.ok(info, 'the new sdist is a target');
      const path = await returning.updater.downloadTarget(info, join(returning.targetDir, sdist.filename));
      assert.deepEqual(readFileSync(path), sdist.bytes);
      assert.ok(await returning.updater.getTargetInfo(targetPathOf(wheel)), 'earlier targets stay');
    });

    test('a man in the middle altering or swapping file bytes is refused, and nothing is kept', async () => {
      const filePath = `/${targetPathOf(wheel)}`;
      for (const [what, alter, expected] of [
        ['one flipped byte', (body: Buffer) => Buffer.from(body.map((b, i) => (i === 100 ? b ^ 1 : b))), /Expected hash/],
        ['another file', () => sdist.bytes, /length|Expected hash/],
      ] as const) {
        const mitm = await startMirror(server.url, (path, body) => (path === filePath ? alter(body) : undefined));
        try {
          const { updater, targetDir } = client(mitm.url);
          const info = await updater.getTargetInfo(targetPathOf(wheel));
          assert.ok(info, what);
          await assert.rejects(updater.downloadTarget(info, join(targetDir, wheel.filename)), (error: unknown) => {
            assert.ok(error instanceof Error);
            assert.match(error.constructor.name, /LengthOrHashMismatchError|DownloadLengthMismatchError/, `${what}: ${error.message}`);
            assert.match(error.message, expected, what);
            return true;
          });
          assert.deepEqual(readdirSync(targetDir), [], `${what}: no file kept`);
        } finally {
          await mitm.close();
        }
      }
    });

    test('a mirror rolling timestamp back, or altering or swapping bin metadata, is refused', async () => {
      const staleTimestamp = Buffer.from(await (await fetch(`${server.url}/tuf/timestamp.json`)).arrayBuffer());
      assert.equal((await uploadFile(server.url, later.path, auth)).status, 200);
      const seen = client(server.url);
      await seen.updater.refresh();

      // Rollback: the client already trusts a newer timestamp.
      const rollback = await startMirror(server.url, (path) => (path === '/tuf/timestamp.json' ? staleTimestamp : undefined));
      try {
        const returning = client(rollback.url, seen.metadataDir);
        await assert.rejects(returning.updater.refresh(), failsWith('BadVersionError', /timestamp version \d+ is less than current version/));
      } finally {
        await rollback.close();
      }

      const layout = hashedBinLayout(DEFAULT_TUF_SETTINGS.binCount);
      const binName = binOf(layout, targetPathOf(later)).name;
      const snapshot = JSON.parse(
        await (await fetch(`${server.url}/tuf/${persistedTimestamp(seen.metadataDir).signed.meta['snapshot.json']!.version}.snapshot.json`)).text(),
      ) as { signed: { meta: Record<string, { version: number }> } };
      const binVersion = snapshot.signed.meta[`${binName}.json`]!.version;
      assert.ok(binVersion >= 2, 'the bin holding the new wheel was re-signed');

      // Altered: the mirror points the target at other bytes; the bin's signature no longer holds.
      const altered = await startMirror(server.url, (path, body) => {
        if (path !== `/tuf/${binVersion}.${binName}.json`) return undefined;
        const json = JSON.parse(body.toString('utf8')) as { signed: { targets: Record<string, { length: number; hashes: { sha256: string } }> } };
        const entry = json.signed.targets[targetPathOf(later)]!;
        entry.length = wheel.bytes.length;
        entry.hashes.sha256 = sha256(wheel.bytes);
        return Buffer.from(JSON.stringify(json));
      });
      try {
        const { updater } = client(altered.url);
        await assert.rejects(updater.getTargetInfo(targetPathOf(later)), failsWith('RuntimeError', /Unable to load targets.*signed by 0\/1/));
      } finally {
        await altered.close();
      }

      // Stale: the mirror answers with the bin's previous (validly signed) version, which the
      // index still serves for an hour after it was superseded.
      const previous = await fetch(`${server.url}/tuf/${binVersion - 1}.${binName}.json`);
      assert.equal(previous.status, 200);
      const previousBin = Buffer.from(await previous.arrayBuffer());
      const stale = await startMirror(server.url, (path) => (path === `/tuf/${binVersion}.${binName}.json` ? previousBin : undefined));
      try {
        const { updater } = client(stale.url);
        await assert.rejects(updater.getTargetInfo(targetPathOf(later)), failsWith('RuntimeError', /does not match snapshot version/));
      } finally {
        await stale.close();
      }
    });

    test('a mirror replaying validly signed but expired metadata (a freeze) is refused', async () => {
      // What a frozen mirror ends up serving: metadata the index signed days ago, now expired.
      // Made by a repository with the index's keys, in a database of its own, whose clock runs
      // two days behind.
      const copy = mkdtempSync(join(dir, 'frozen-'));
      cpSync(join(server.dataDir, 'tuf'), join(copy, 'tuf'), { recursive: true });
      const frozenDb = await openDatabase(`sqlite:${join(copy, 'frozen.sqlite')}`);
      const frozen = new TufRepository({
        dataDir: copy,
        db: frozenDb.db,
        clock: () => new Date(Date.now() - 2 * 24 * 3600 * 1000),
        settings: { ...DEFAULT_TUF_SETTINGS, binCount: 16 },
      });
      const outcome = await frozen.refresh();
      assert.ok(outcome.written.includes('timestamp.json'));
      const frozenFiles = new Map<string, Buffer>();
      for (const name of outcome.written) frozenFiles.set(name, (await frozen.readMetadata(name))!);
      await frozenDb.close();
      const mirror = await startMirror(server.url, (path) => frozenFiles.get(path.replace(/^\/tuf\//, '')));
      try {
        const { updater } = client(mirror.url);
        await assert.rejects(updater.refresh(), failsWith('ExpiredMetadataError', /timestamp\.json is expired/));
      } finally {
        await mirror.close();
      }
    });

    test('the repository re-signs only what changed, renews timestamp near expiry, and survives a restart with keys offline', async () => {
      // An index of its own, whose repository only this test refreshes, on a clock it moves.
      let now = new Date();
      const fresh = await startTestServer(engine, {}, { clock: () => now });
      after(() => fresh.stop());
      const freshAuth = basicAuth(await fresh.token('new_projects'));
      const dataDir = fresh.dataDir;
      const settings = { ...DEFAULT_TUF_SETTINGS, binCount: 16 };
      const open = () => new TufRepository({ dataDir, db: fresh.services.db, clock: () => now, settings });
      const repository = open();
      const first = await repository.refresh();
      assert.ok(first.written.includes('1.root.json') && first.written.includes('timestamp.json'));
      const keysDir = join(dataDir, 'tuf', 'keys');
      assert.equal(statSync(keysDir).mode & 0o777, 0o700);
      assert.deepEqual(readdirSync(keysDir).sort(), ['bins.json', 'online.json', 'root.json', 'targets.json']);
      for (const key of readdirSync(keysDir)) assert.equal(statSync(join(keysDir, key)).mode & 0o777, 0o600, key);

      assert.deepEqual((await repository.refresh()).written, [], 'nothing changed, nothing written');
      now = new Date(now.getTime() + 13 * 3600 * 1000);
      assert.deepEqual((await repository.refresh()).written, ['timestamp.json'], 'timestamp renewed past half its day');

      const layout = hashedBinLayout(16);
      const extra = makeDistribution(dir, { name: 'tuf-incremental', version: '1.0', kind: 'sdist' });
      assert.equal((await uploadFile(fresh.url, extra.path, freshAuth)).status, 200);
      const bin = binOf(layout, targetPathOf(extra)).name;
      // The file and its PEP 658 metadata are two targets, and the project's two simple pages two
      // more (PEP 458 lists simple pages); their bins (one to four) are re-signed.
      const touched = [
        ...new Set([
          bin,
          binOf(layout, `${targetPathOf(extra)}.metadata`).name,
          binOf(layout, 'simple/tuf-incremental/index.html').name,
          binOf(layout, 'simple/tuf-incremental/index.json').name,
        ]),
      ].map((b) => `${b}.json`);
      const expected = [...touched, 'snapshot.json', 'timestamp.json'].sort();
      const added = await repository.refresh();
      assert.deepEqual(added.written.map((n) => n.replace(/^\d+\./, '')).sort(), expected);

      // A restart reads the published state back and finds nothing to do.
      const restarted = open();
      assert.deepEqual((await restarted.refresh()).written, []);

      // PEP 458: root, targets and bins keys go offline once the repository exists.
      for (const offline of ['root.json', 'targets.json', 'bins.json']) rmSync(join(keysDir, offline));
      await fresh.services.index.deleteRelease('tuf-incremental', '1.0');
      const removed = await open().refresh();
      assert.deepEqual(removed.written.map((n) => n.replace(/^\d+\./, '')).sort(), expected);
      const binFile = removed.written.find((n) => n.endsWith(`.${bin}.json`))!;
      const binJson = JSON.parse((await repository.readMetadata(binFile))!.toString('utf8')) as { signed: { targets: Record<string, unknown> } };
      assert.equal(binJson.signed.targets[targetPathOf(extra)], undefined, 'a deleted file is no longer a target');
      assert.deepEqual(readdirSync(keysDir), ['online.json'], 'offline keys are not regenerated');
    });

    test('the simple pages are targets (PEP 458): tuf-js verifies the page pip reads, by its plain and its hash-prefixed name', async () => {
      const page = Buffer.from(await (await fetch(`${server.url}/simple/tuf-demo/`, { headers: { Accept: 'text/html' } })).arrayBuffer());
      const { updater, targetDir } = client(server.url);
      await updater.refresh();
      const info = await updater.getTargetInfo('simple/tuf-demo/index.html');
      assert.ok(info, 'the HTML simple page is a target');
      assert.deepEqual(info.hashes, { sha256: sha256(page) });
      assert.deepEqual(readFileSync(await updater.downloadTarget(info, join(targetDir, 'index.html'))), page);
      assert.ok(await updater.getTargetInfo('simple/tuf-demo/index.json'), 'the PEP 691 page too');

      // With consistent snapshots a client may ask for <sha256>.index.html (tuf-js's default).
      const hashed = new Updater({
        metadataDir: client(server.url).metadataDir,
        metadataBaseUrl: `${server.url}/tuf`,
        targetDir: join(dir, 'hashed-targets'),
        targetBaseUrl: `${server.url}/`,
        config: { prefixTargetsWithHash: true, fetchRetry: 0 },
      });
      mkdirSync(join(dir, 'hashed-targets'));
      const hashedInfo = await hashed.getTargetInfo('simple/tuf-demo/index.html');
      assert.ok(hashedInfo);
      assert.deepEqual(readFileSync(await hashed.downloadTarget(hashedInfo, join(dir, 'hashed-targets', 'index.html'))), page);

      // A mirror adding a link to the page is caught.
      const mitm = await startMirror(server.url, (path, body) =>
        path === '/simple/tuf-demo/index.html' ? Buffer.from(body.toString().replace('</body>', '<a href="https://evil.example/x.whl">x</a></body>')) : undefined,
      );
      try {
        const other = client(mitm.url);
        const altered = await other.updater.getTargetInfo('simple/tuf-demo/index.html');
        assert.ok(altered);
        await assert.rejects(other.updater.downloadTarget(altered, join(other.targetDir, 'index.html')), /length|hash/i);
      } finally {
        await mitm.close();
      }
    });

    test('a catalogue larger than a bin holds re-bins: more bins, every target still found, returning clients carry on', async () => {
      const small = await startTestServer(engine, { tuf: { ...DEFAULT_TUF_SETTINGS, binCount: 2, maxTargetsPerBin: 4 } });
      after(() => small.stop());
      const smallAuth = basicAuth(await small.token('new_projects'));
      const firstDist = makeDistribution(dir, { name: 'tuf-rebin', version: '0.1', kind: 'wheel' });
      assert.equal((await uploadFile(small.url, firstDist.path, smallAuth)).status, 200);
      const rootBytes = Buffer.from(await (await fetch(`${small.url}/tuf/root.json`)).arrayBuffer());
      const early = mkdtempSync(join(dir, 'rebin-client-'));
      writeFileSync(join(early, 'root.json'), rootBytes);
      const updaterAt = (metadataDir: string) =>
        new Updater({ metadataDir, metadataBaseUrl: `${small.url}/tuf`, targetDir: metadataDir, targetBaseUrl: `${small.url}/`, config: { prefixTargetsWithHash: false, fetchRetry: 0 } });
      await updaterAt(early).refresh();
      const binsOf = async () => {
        const timestamp = (await (await fetch(`${small.url}/tuf/timestamp.json`)).json()) as { signed: { meta: Record<string, { version: number }> } };
        const snapshot = (await (await fetch(`${small.url}/tuf/${timestamp.signed.meta['snapshot.json']!.version}.snapshot.json`)).json()) as {
          signed: { meta: Record<string, { version: number }> };
        };
        const bins = (await (await fetch(`${small.url}/tuf/${snapshot.signed.meta['bins.json']!.version}.bins.json`)).json()) as {
          signed: { delegations: { succinct_roles: { bit_length: number } } };
        };
        return 2 ** bins.signed.delegations.succinct_roles.bit_length;
      };
      const before = await binsOf();

      const dists = [1, 2, 3, 4, 5].map((n) => makeDistribution(dir, { name: `tuf-rebin-${n}`, version: '1.0', kind: 'wheel' }));
      for (const d of dists) assert.equal((await uploadFile(small.url, d.path, smallAuth)).status, 200);
      const grown = await binsOf();
      assert.ok(grown > before, `the layout grew from ${before} to ${grown} bins`);
      // 6 files × 2 targets + 6 projects × 2 pages = 24 targets, at most 4 a bin: at least 8 bins.
      assert.ok(grown >= 8, `${grown} bins`);

      const returning = updaterAt(early);
      await returning.refresh();
      for (const d of [firstDist, ...dists]) {
        assert.ok(await returning.getTargetInfo(targetPathOf(d)), `${d.filename} found after re-binning`);
        assert.ok(await returning.getTargetInfo(`${targetPathOf(d)}.metadata`));
      }
      assert.ok(await returning.getTargetInfo('simple/tuf-rebin-3/index.json'));
    });

    test('concurrent uploads and timestamp requests produce one consistent sequence of snapshots', async () => {
      const dists = [1, 2, 3, 4].map((n) => makeDistribution(dir, { name: `tuf-burst-${n}`, version: '1.0', kind: 'wheel' }));
      const polls: number[][] = [];
      const poll = async () => {
        const seen: number[] = [];
        polls.push(seen);
        for (let i = 0; i < 5; i++) {
          const response = await fetch(`${server.url}/tuf/timestamp.json`);
          assert.equal(response.status, 200);
          seen.push(((await response.json()) as { signed: { version: number } }).signed.version);
        }
      };
      const results = await Promise.all([...dists.map((d) => uploadFile(server.url, d.path, auth)), poll(), poll(), poll()]);
      for (const result of results.slice(0, dists.length)) assert.equal((result as { status: number }).status, 200);
      for (const seen of polls) assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'a poller never sees the timestamp go back');
      const { updater } = client(server.url);
      for (const d of dists) assert.ok(await updater.getTargetInfo(targetPathOf(d)), d.filename);
    });

    test('an admin command in another process publishes, and the running index carries on from its metadata', async () => {
      const extra = makeDistribution(dir, { name: 'tuf-admin', version: '1.0', kind: 'wheel' });
      assert.equal((await uploadFile(server.url, extra.path, auth)).status, 200);
      const storage = ['--data-dir', server.dataDir, '--database-url', server.config.databaseUrl];
      const refreshed = await runCairn(['admin', 'tuf', 'refresh', ...storage]);
      assert.equal(refreshed.status, 0, refreshed.output);
      // The index may have folded the upload in first (it refreshes soon after a change): then
      // the command finds it up to date. Either way both now publish one sequence of versions.
      assert.match(refreshed.stdout, /wrote \d+ file|already up to date/);
      const published = Number(/timestamp (\d+)/.exec(refreshed.stdout)![1]);
      const served = (await (await fetch(`${server.url}/tuf/timestamp.json`)).json()) as { signed: { version: number } };
      assert.ok(served.signed.version >= published, `the server carries on from the other process’s timestamp ${published} (serves ${served.signed.version})`);
      const next = makeDistribution(dir, { name: 'tuf-admin', version: '2.0', kind: 'wheel', payload: 'y = 2\n' });
      assert.equal((await uploadFile(server.url, next.path, auth)).status, 200);
      const later = (await (await fetch(`${server.url}/tuf/timestamp.json`)).json()) as { signed: { version: number } };
      assert.ok(later.signed.version > published, 'a later upload is published above the other process’s version');

      const { updater, targetDir } = client(server.url);
      const info = await updater.getTargetInfo(targetPathOf(extra));
      assert.ok(info);
      assert.deepEqual(readFileSync(await updater.downloadTarget(info, join(targetDir, extra.filename))), extra.bytes);

      const root = await runCairn(['admin', 'tuf', 'root', ...storage]);
      assert.equal(root.status, 0, root.output);
      assert.deepEqual(Buffer.from(root.stdout.trimEnd()), pinnedRoot);
      assert.match(root.stderr, /root version 1, sha256 [0-9a-f]{64}/);
    });
  });
}

/**
 * The first build of a large catalogue signs for minutes (PostgreSQL at 1M files: longer than a
 * load balancer or the idle-socket timeout holds a quiet request): a request waits a bounded time,
 * then learns to come back, while the build goes on.
 */
describe('TUF metadata not signed yet', () => {
  let server: TestServer;
  before(async () => {
    // No wait at all: the first build runs on a worker thread that has not even started yet.
    server = await startTestServer('sqlite', { tufWaitMs: 0 });
  });
  after(async () => server?.stop());

  test('timestamp.json and root.json answer 503 with Retry-After until the first build is published, then the metadata', async () => {
    for (const name of ['timestamp.json', 'root.json']) {
      const response = await fetch(`${server.url}/tuf/${name}`);
      assert.equal(response.status, 503, name);
      assert.equal(response.headers.get('retry-after'), '10');
      const problem = (await response.json()) as { code: string; detail?: string; message?: string };
      assert.equal(problem.code, 'tuf.not_ready');
      assert.match(JSON.stringify(problem), /still being signed/);
    }
    // The build went on without anyone waiting for it.
    let timestamp: Response | null = null;
    for (let i = 0; i < 300 && timestamp?.status !== 200; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      timestamp = await fetch(`${server.url}/tuf/timestamp.json`);
    }
    assert.equal(timestamp!.status, 200);
    assert.equal(((await timestamp!.json()) as { signed: { _type: string } }).signed._type, 'timestamp');
    assert.equal((await fetch(`${server.url}/tuf/root.json`)).status, 200);
  });
});

/**
 * The worker thread that signs is retired when idle (a large refresh leaves its heap committed,
 * and `cairn serve` runs without V8's idle-time compaction): the next refresh starts a fresh one,
 * which reads the published state from the database and goes on from it.
 */
describe('the TUF worker thread', () => {
  test('an idle worker is retired, and the next refresh starts a fresh one that signs what changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-tuf-worker-'));
    const databaseUrl = `sqlite:${join(dir, 'cairn.sqlite')}`;
    const opened = await openDatabase(databaseUrl);
    const settings = { ...DEFAULT_TUF_SETTINGS, binCount: 4 };
    const warnings: string[] = [];
    const reader = new TufRepository({ dataDir: dir, db: opened.db, clock: () => new Date(), settings });
    const tuf = new BackgroundTuf(reader, { databaseUrl, dataDir: dir, settings, warn: (message) => warnings.push(message), idleWorkerMs: 200 });
    try {
      const first = await tuf.refresh();
      assert.ok(first.written.includes('timestamp.json'));
      assert.equal(tuf.workerRunning, true);
      for (let i = 0; i < 50 && tuf.workerRunning; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(tuf.workerRunning, false, 'retired after 200 ms without a refresh');

      await opened.db.transaction().execute((trx) => new TufTargets(opened.db).put(trx, [{ path: 'files/after-idle.txt', length: 3, sha256: 'ab'.repeat(32) }]));
      const second = await tuf.refresh();
      assert.equal(tuf.workerRunning, true);
      assert.equal(second.timestampVersion, first.timestampVersion + 1);
      const bin = binOf(hashedBinLayout(second.bins), 'files/after-idle.txt').name;
      assert.ok(second.written.some((name) => name.endsWith(`.${bin}.json`)), `${bin} signed again: ${second.written.join(', ')}`);
      assert.deepEqual(warnings, []);
    } finally {
      await tuf.close();
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
