import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeDistribution } from '../support/dist-factory.ts';
import { devToken, devTrustBase } from '../support/provenance.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * PEP 807 (draft) Trusted Publishing discovery and exchange beside PyPI's routes: the well-known
 * document names the audience and mint endpoints, failures are RFC 9457 problem documents with
 * the cairn code, and a single-use token is refused on its second upload.
 */
const REPOSITORY = 'octo-org/pytp-demo';
const WORKFLOW_REF = `${REPOSITORY}/.github/workflows/release.yml@refs/heads/main`;
const work = mkdtempSync(join(tmpdir(), 'cairn-pytp-'));
after(() => rmSync(work, { recursive: true, force: true }));
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  message: string;
  errors: { code: string; description: string }[];
}

async function problem(response: Response, status: number, code: string): Promise<Problem> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  const body = (await response.json()) as Problem;
  // RFC 9457 §3.1 members, and the stable cairn code beside them
  assert.equal(body.type, `https://cairn.dev/errors/${code}`);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0);
  assert.equal(body.status, status);
  assert.equal(typeof body.detail, 'string');
  assert.equal(body.code, code);
  // PEP 807's error shape rides along as extension members
  assert.equal(body.message, body.detail);
  assert.deepEqual(body.errors, [{ code, description: body.detail }]);
  return body;
}

for (const { engine, skip } of await testEngines()) {
  describe(`PEP 807 discovery and exchange (${engine})`, { skip }, () => {
    let server: TestServer;
    let version = 0;
    before(async () => {
      server = await startTestServer(engine, { devTrust: true });
      await server.services.publishers.add({ project: 'pytp-demo', issuer: `${devTrustBase(server)}/oidc`, repository: REPOSITORY, workflow: 'release.yml' }, new Date());
    });
    after(async () => server?.stop());

    const ciToken = () => devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'cairn' });
    const nextDist = () => makeDistribution(work, { name: 'pytp-demo', version: `1.${version++}`, kind: 'wheel' });

    async function discover(): Promise<{ 'audience-endpoint': string; 'mint-token-endpoint': string }> {
      const response = await fetch(`${server.url}/.well-known/pytp/${sha256('/legacy/')}`, { headers: { accept: 'application/vnd.pypi.pytp.v1+json' } });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/vnd\.pypi\.pytp\.v1\+json/);
      return (await response.json()) as { 'audience-endpoint': string; 'mint-token-endpoint': string };
    }

    async function mint(body: Record<string, unknown>): Promise<Response> {
      const { 'mint-token-endpoint': endpoint } = await discover();
      return fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    }

    test('the well-known document names endpoints on the upload URL\'s host; unknown keys are a bare 404', async () => {
      const document = await discover();
      assert.deepEqual(document, { 'audience-endpoint': `${server.url}/_/pytp/audience`, 'mint-token-endpoint': `${server.url}/_/pytp/mint-token` });
      // the draft's worked example hashes "/legacy/" with a trailing newline: that key answers too
      const example = await fetch(`${server.url}/.well-known/pytp/af030c06750716b1b35852298fe852b90def13dcbd012a5fe5148470f1206bfc`);
      assert.equal(example.status, 200);
      const unknown = await fetch(`${server.url}/.well-known/pytp/${sha256('/simple/')}`);
      assert.equal(unknown.status, 404);
      assert.equal(await unknown.text(), '', 'PEP 807: a 404 SHOULD NOT carry a body');
      const audience = await fetch(document['audience-endpoint']);
      assert.deepEqual(await audience.json(), { audience: 'cairn' });
    });

    test('another Accept is refused 406 with a problem document', async () => {
      await problem(await fetch(`${server.url}/.well-known/pytp/${sha256('/legacy/')}`, { headers: { accept: 'text/html' } }), 406, 'request.not_acceptable');
    });

    test('a failed exchange answers RFC 9457 problem details carrying the cairn code', async () => {
      await problem(await mint({}), 422, 'oidc.malformed_token');
      await problem(await mint({ token: 'not-a-jwt' }), 422, 'oidc.malformed_token');
      const wrongAudience = await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'elsewhere' });
      await problem(await mint({ token: wrongAudience }), 422, 'oidc.bad_audience');
      const stranger = await devToken(server, { repository: 'mallory/evil', workflow_ref: 'mallory/evil/.github/workflows/release.yml@refs/heads/main', aud: 'cairn' });
      const refused = await problem(await mint({ token: stranger }), 422, 'oidc.no_matching_publisher');
      assert.equal(refused.title, 'OIDC: no matching publisher');
      const tokens = await server.services.tokens.list(new Date(), { includeEndedPublishing: true });
      assert.equal(tokens.length, 0, 'a refused exchange mints nothing');
    });

    test('a single-use token uploads once; its second use is refused with auth.token_used and stores nothing', async () => {
      const response = await mint({ token: await ciToken(), 'single-use': true });
      assert.equal(response.status, 200);
      const minted = (await response.json()) as { token: string; expires: number; 'single-use': boolean };
      assert.equal(minted['single-use'], true);
      const lifetime = minted.expires - Date.now() / 1000;
      assert.ok(lifetime >= 890 && lifetime <= 21_600, `PEP 807: between 15 minutes and 6 hours, got ${lifetime}s`);
      const auth = basicAuth(minted.token);
      const first = nextDist();
      assert.equal((await uploadFile(server.url, first.path, auth)).status, 200);
      const filesBefore = (await server.services.index.counts()).files;
      const second = nextDist();
      const refused = await uploadFile(server.url, second.path, auth);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'auth.token_used');
      assert.equal((await server.services.index.counts()).files, filesBefore, 'nothing stored');
      assert.equal(await server.services.index.fileByName(second.filename), undefined);
    });

    test('tokens are reusable within their lifetime unless asked otherwise', async () => {
      const response = await mint({ token: await ciToken() });
      const minted = (await response.json()) as { token: string; 'single-use': boolean };
      assert.equal(minted['single-use'], false);
      const auth = basicAuth(minted.token);
      assert.equal((await uploadFile(server.url, nextDist().path, auth)).status, 200);
      assert.equal((await uploadFile(server.url, nextDist().path, auth)).status, 200);
    });
  });
}

describe('CAIRN_PUBLISHING_SINGLE_USE=1', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite', { devTrust: true, publishingSingleUse: true });
    await server.services.publishers.add({ project: 'pytp-demo', issuer: `${devTrustBase(server)}/oidc`, repository: REPOSITORY, workflow: 'release.yml' }, new Date());
  });
  after(async () => server?.stop());

  test('every token is single-use, on the PyPI-compatible route too', async () => {
    const response = await fetch(`${server.url}/_/oidc/mint-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'cairn' }) }),
    });
    assert.equal(response.status, 200);
    const auth = basicAuth(((await response.json()) as { token: string }).token);
    assert.equal((await uploadFile(server.url, makeDistribution(work, { name: 'pytp-demo', version: '9.0', kind: 'wheel' }).path, auth)).status, 200);
    const again = await uploadFile(server.url, makeDistribution(work, { name: 'pytp-demo', version: '9.1', kind: 'wheel' }).path, auth);
    assert.equal(again.body.code, 'auth.token_used');
  });
});
