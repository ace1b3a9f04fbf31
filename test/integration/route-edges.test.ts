import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeMultipart } from '../support/multipart.ts';
import { startTestServer, testEngines, type TestServer } from '../support/server.ts';

/**
 * What the edge of each route refuses before its handler runs: bodies of a type the route does
 * not read (a multipart form is read by `/legacy/` alone).
 */
for (const { engine, skip } of await testEngines()) {
  describe(`route edges (${engine})`, { skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(engine);
      await server.services.index.createProject('edge-demo', new Date());
    });
    after(async () => server?.stop());

    const answer = async (path: string, init: RequestInit = {}) => {
      const response = await fetch(`${server.url}${path}`, init);
      const text = await response.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // an HTML page
      }
      return { status: response.status, type: response.headers.get('content-type') ?? '', text, body };
    };
    const post = (path: string, body: string | Buffer, contentType: string) =>
      answer(path, { method: 'POST', headers: { 'Content-Type': contentType }, body });

    test('a multipart body reaches only /legacy/: elsewhere it is refused like any unsupported content type', async () => {
      const form = encodeMultipart([{ name: 'filename', value: 'x-1.0.tar.gz' }]);
      const pendingBefore = await server.services.pendingProvenance.countPending();
      for (const path of ['/_/provenance', '/_/oidc/mint-token']) {
        const multipart = await post(path, form.body, form.contentType);
        const unknown = await post(path, form.body, 'application/x-cairn-unknown');
        assert.equal(multipart.status, unknown.status, path);
        assert.equal(multipart.body.code, unknown.body.code, path);
        assert.ok(multipart.status >= 400 && multipart.status < 500, `${path}: ${multipart.status}`);
      }
      assert.equal((await post('/_/provenance', form.body, form.contentType)).body.code, 'request.malformed');
      const exchange = await post('/_/oidc/mint-token', form.body, form.contentType);
      assert.equal(exchange.status, 422);
      assert.equal(exchange.body.code, 'oidc.malformed_token');
      assert.equal(exchange.body.message, 'Token request failed', 'still the PyPI-shaped refusal');
      assert.equal(await server.services.pendingProvenance.countPending(), pendingBefore);
      // And /legacy/ still reads forms: this one is refused for its missing credentials, not its type.
      assert.equal((await post('/legacy/', form.body, form.contentType)).body.code, 'auth.missing');
    });
  });
}
