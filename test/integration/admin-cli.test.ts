import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadServerConfig } from '../../src/server/config.ts';
import { openServices } from '../../src/server/composition.ts';
import { startServer } from '../../src/server/http/server.ts';
import { hashToken } from '../../src/server/auth/tokens.ts';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { basicAuth } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/** The operator commands as an operator types them: what they print, what they refuse, what they leave. */
const dataDir = mkdtempSync(join(tmpdir(), 'cairn-admin-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));
const admin = (...args: string[]) => runCairn(['admin', ...args, '--data-dir', dataDir]);

async function rowCounts() {
  const services = await openServices(loadServerConfig({ dataDir }, {}));
  try {
    const n = async (table: 'projects' | 'api_tokens' | 'trusted_publishers') =>
      Number((await services.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const revoked = Number((await services.db.selectFrom('api_tokens').select((eb) => eb.fn.countAll().as('n')).where('revoked_at', 'is not', null).executeTakeFirstOrThrow()).n);
    return { projects: await n('projects'), tokens: await n('api_tokens'), revoked, publishers: await n('trusted_publishers') };
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
  assert.match(token.stderr, /created token 1; it is shown once \(revoke with: cairn admin token revoke 1\)/);
  assert.deepEqual(await rowCounts(), { projects: 1, tokens: 1, revoked: 0, publishers: 0 });
});

const refusals: [string, string[], string, RegExp][] = [
  ['a token that may do nothing', ['token', 'create'], 'usage.invalid_argument', /--project NAME or --new-projects/],
  ['an invalid project name', ['project', 'create', 'bad name!'], 'name.invalid', /Invalid project name 'bad name!'/],
  ['a project that exists under another spelling', ['project', 'create', 'ADMIN.demo'], 'project.exists', /already exists \(as 'admin-demo'\)/],
  ['yanking an unknown project', ['yank', 'nope', '1.0'], 'project.not_found', /no project named 'nope'/],
  ['deleting a release that does not exist', ['delete-release', 'admin-demo', '9.9'], 'release.not_found', /has no release 9\.9/],
  ['a publisher whose issuer is not a URL', ['publisher', 'add', '--project', 'admin-demo', '--issuer', 'notaurl', '--repository', 'a/b', '--workflow', 'w.yml'], 'usage.invalid_argument', /OIDC issuer URL/],
  ['an unknown database', ['token', 'create', '--new-projects', '--database-url', 'mysql://db/cairn'], 'config.invalid', /sqlite:PATH or postgres/],
  ['revoking a token that does not exist', ['token', 'revoke', '999'], 'token.not_found', /no API token with id 999/],
  ['revoking by something that is not an id', ['token', 'revoke', 'cairn-abc'], 'usage.invalid_argument', /the token id is a positive number, got 'cairn-abc'/],
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

test('tokens are listed without their secret, and a revoked token is refused by the running index at once', async () => {
  const owner = await admin('token', 'create', '--new-projects', '--description', 'release CI');
  assert.equal(owner.status, 0, owner.output);
  const secret = owner.stdout.trim();
  const ownerId = Number(/created token (\d+)/.exec(owner.stderr)?.[1]);

  const listed = await admin('token', 'list', '--json');
  assert.equal(listed.status, 0, listed.output);
  assert.ok(!listed.stdout.includes(secret) && !listed.stdout.includes(hashToken(secret)), 'neither the token nor its hash is shown');
  const entries = JSON.parse(listed.stdout) as { id: number; state: string; scope: string; projects: string[]; description: string; last_used_at: string | null }[];
  assert.deepEqual(
    entries.map((t) => [t.id, t.state, t.scope, t.projects, t.description, t.last_used_at]),
    [
      [1, 'active', 'projects', ['admin-demo'], '', null],
      [ownerId, 'active', 'new_projects', [], 'release CI', null],
    ],
  );

  const server = await startServer(loadServerConfig({ dataDir, port: 0 }, {}));
  try {
    const work = mkdtempSync(join(tmpdir(), 'cairn-revoke-'));
    const first = makeDistribution(work, { name: 'revoke-demo', version: '1.0', kind: 'wheel' });
    const second = makeDistribution(work, { name: 'revoke-demo', version: '1.1', kind: 'wheel' });
    assert.equal((await uploadFile(server.url, first.path, basicAuth(secret))).status, 200);

    const revoked = await admin('token', 'revoke', String(ownerId));
    assert.equal(revoked.status, 0, revoked.output);
    assert.match(revoked.stdout, new RegExp(`revoked token ${ownerId}\trevoked\tnew-projects`));

    const refused = await uploadFile(server.url, second.path, basicAuth(secret));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'auth.invalid_token');
    assert.match(refused.body.message ?? '', /has been revoked/);
    const files = await server.services.db.selectFrom('files').select('filename').execute();
    assert.deepEqual(files.map((f) => f.filename), [first.filename], 'the refused upload stored nothing');

    const again = await admin('token', 'revoke', String(ownerId));
    assert.equal(again.status, 0, 'revoking twice is harmless');
    const firstRevokedAt = /\trevoked (\S+)/.exec(revoked.stdout)?.[1];
    assert.match(again.stdout, new RegExp(`\trevoked ${firstRevokedAt}\t`), 'and keeps the first revocation time');
    const text = await admin('token', 'list');
    assert.match(text.stdout, new RegExp(`^${ownerId}\trevoked\tnew-projects\tcreated \\S+\trevoked \\S+\tlast used \\S+\trelease CI$`, 'm'));
    assert.match(text.stdout, /^1\tactive\tprojects:admin-demo\tcreated \S+\tno expiry\tnever used$/m);
    rmSync(work, { recursive: true, force: true });
  } finally {
    await server.close();
  }
});
