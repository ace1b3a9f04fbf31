import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth, startTestServer, testEngines } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * Uploads that race to create the same project or release (twine --parallel, a CI matrix): the
 * same token gets every file in; a different token never gets into a project it does not own.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-race-'));
after(() => rmSync(work, { recursive: true, force: true }));

for (const { engine, skip } of await testEngines()) {
  describe(`concurrent uploads (${engine})`, { skip }, () => {
    test('one token uploading a new project\'s files at once: all stored, one project, one release', async () => {
      const server = await startTestServer(engine);
      try {
        const auth = basicAuth(await server.token('new_projects'));
        const files = [
          makeDistribution(work, { name: 'race-pkg', version: '1.0', kind: 'wheel' }),
          makeDistribution(work, { name: 'race-pkg', version: '1.0', kind: 'sdist' }),
          makeDistribution(work, { name: 'race-pkg', version: '1.1', kind: 'wheel' }),
        ];
        const answers = await Promise.all(files.map((f) => uploadFile(server.url, f.path, auth)));
        assert.deepEqual(answers.map((a) => a.status), [200, 200, 200], JSON.stringify(answers));
        const db = server.services.db;
        assert.equal((await db.selectFrom('projects').selectAll().execute()).length, 1);
        assert.deepEqual((await db.selectFrom('releases').select('version').orderBy('version').execute()).map((r) => r.version), ['1.0', '1.1']);
        assert.equal((await db.selectFrom('files').selectAll().execute()).length, 3);
      } finally {
        await server.stop();
      }
    });

    test('pages read while releases land: every read answers from one snapshot, never a 500', async () => {
      const server = await startTestServer(engine);
      try {
        const auth = basicAuth(await server.token('new_projects'));
        const files = Array.from({ length: 16 }, (_, i) => makeDistribution(work, { name: 'busy-pkg', version: `2.${i}`, kind: 'wheel' }));
        assert.equal((await uploadFile(server.url, files[0]!.path, auth)).status, 200);
        const pages = ['/', '/project/busy-pkg/', '/rss/updates.xml', '/rss/packages.xml', '/rss/project/busy-pkg/releases.xml', '/search?q=busy', '/pypi/busy-pkg/json', '/simple/busy-pkg/'];
        let landing = 1;
        let uploading = true;
        const failures: string[] = [];
        let reads = 0;
        // Most readers ask for the release being committed right now: its page is read while it lands.
        const readers = Array.from({ length: 8 }, async (_, r) => {
          while (uploading) {
            const version = `2.${landing}`;
            const path = r < 6 ? [`/project/busy-pkg/${version}/`, `/pypi/busy-pkg/${version}/json`][r % 2]! : pages[(reads + r) % pages.length]!;
            const response = await fetch(`${server.url}${path}`);
            const text = await response.text();
            reads++;
            const notYet = response.status === 404 && path.includes(`/${version}/`);
            if (response.status !== 200 && !notYet) failures.push(`${path}: ${response.status} ${text.slice(0, 200)}`);
          }
        });
        const answers = [];
        for (const [i, f] of files.entries()) {
          if (i === 0) continue;
          landing = i;
          answers.push(await uploadFile(server.url, f.path, auth));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        uploading = false;
        await Promise.all(readers);
        assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200), JSON.stringify(answers));
        assert.deepEqual(failures, []);
        assert.ok(reads > pages.length, `only ${reads} reads`);
      } finally {
        await server.stop();
      }
    });

    test('two tokens racing to create the same project: exactly one owns it, the other is refused', async () => {
      const server = await startTestServer(engine);
      try {
        const [a, b] = [basicAuth(await server.token('new_projects')), basicAuth(await server.token('new_projects'))];
        const wheel = makeDistribution(work, { name: 'contested', version: '1.0', kind: 'wheel' });
        const sdist = makeDistribution(work, { name: 'contested', version: '1.0', kind: 'sdist' });
        const answers = await Promise.all([uploadFile(server.url, wheel.path, a), uploadFile(server.url, sdist.path, b)]);
        assert.deepEqual(answers.map((x) => x.status).sort(), [200, 403], JSON.stringify(answers));
        const refused = answers.find((x) => x.status === 403)!;
        assert.match(refused.body.message ?? '', /isn't allowed to upload to project 'contested'/);
        assert.equal((await server.services.db.selectFrom('files').selectAll().execute()).length, 1);
        assert.equal((await server.services.db.selectFrom('project_owners').selectAll().execute()).length, 1);
      } finally {
        await server.stop();
      }
    });
  });
}
