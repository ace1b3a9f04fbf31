import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadServerConfig } from '../../src/config.ts';
import { openServices } from '../../src/services/cairn-services.ts';
import { runCairn } from '../support/commands.ts';

/** The operator commands as an operator types them: what they print, what they refuse, what they leave. */
const dataDir = mkdtempSync(join(tmpdir(), 'cairn-admin-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const admin = (...args: string[]) => runCairn(['admin', ...args, '--data-dir', dataDir]);

async function rowCounts() {
  const services = await openServices(loadServerConfig({ dataDir }, {}));
  try {
    const n = async (table: 'projects' | 'api_tokens' | 'trusted_publishers') =>
      Number((await services.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    return { projects: await n('projects'), tokens: await n('api_tokens'), publishers: await n('trusted_publishers') };
  } finally {
    await services.close();
  }
}

test('project and token creation print what was made; the token is shown once', async () => {
  const created = await admin('project', 'create', 'Admin_Demo');
  assert.equal(created.status, 0, created.output);
  assert.match(created.stdout, /created project Admin_Demo \(admin-demo\)/);
  const token = await admin('token', 'create', '--project', 'admin-demo');
  assert.equal(token.status, 0, token.output);
  assert.match(token.stdout.trim(), /^cairn-[A-Za-z0-9_-]{30,}$/);
  assert.deepEqual(await rowCounts(), { projects: 1, tokens: 1, publishers: 0 });
});

const refusals: [string, string[], string, RegExp][] = [
  ['a token that may do nothing', ['token', 'create'], 'usage.invalid_argument', /--project NAME or --new-projects/],
  ['an invalid project name', ['project', 'create', 'bad name!'], 'name.invalid', /Invalid project name 'bad name!'/],
  ['a project that exists under another spelling', ['project', 'create', 'ADMIN.demo'], 'project.exists', /already exists \(as 'admin-demo'\)/],
  ['yanking an unknown project', ['yank', 'nope', '1.0'], 'project.not_found', /no project named 'nope'/],
  ['deleting a release that does not exist', ['delete-release', 'admin-demo', '9.9'], 'release.not_found', /has no release 9\.9/],
  ['a publisher whose issuer is not a URL', ['publisher', 'add', '--project', 'admin-demo', '--issuer', 'notaurl', '--repository', 'a/b', '--workflow', 'w.yml'], 'usage.invalid_argument', /OIDC issuer URL/],
  ['an unknown database', ['token', 'create', '--new-projects', '--database-url', 'mysql://db/cairn'], 'config.invalid', /sqlite:PATH or postgres/],
];
for (const [name, args, code, message] of refusals) {
  test(`refused with exit 2 and nothing stored: ${name}`, async () => {
    const before = await rowCounts();
    const result = await admin(...args);
    assert.equal(result.status, 2, result.output);
    assert.match(result.stderr, new RegExp(`error \\[${code.replace('.', '\\.')}\\]`));
    assert.match(result.stderr, message);
    assert.deepEqual(await rowCounts(), before);
  });
}
