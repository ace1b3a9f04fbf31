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
