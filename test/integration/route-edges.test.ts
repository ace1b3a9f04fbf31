import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { encodeMultipart } from '../support/multipart.ts';
import { startTestServer, testEngines, type TestServer } from '../support/server.ts';

/**
 * What the edge of each route refuses before its handler runs: bodies of a type the route does
 * not read (a multipart form is read by `/legacy/` alone), and path parameters or bodies outside
 * the route's schema — each answered with the code the route itself answers for such input.
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

    test('path parameters outside a route\'s schema get the code the route answers for them', async () => {
      const cases: [string, number, string][] = [
        [`/files/${'A'.repeat(64)}/edge_demo-1.0-py3-none-any.whl`, 404, 'file.not_found'],
        ['/files/not-a-digest/edge_demo-1.0-py3-none-any.whl', 404, 'file.not_found'],
        [`/files/${'a'.repeat(64)}/${'x'.repeat(300)}.whl`, 404, 'file.not_found'],
        [`/files/${'a'.repeat(64)}/edge%20demo.whl`, 404, 'file.not_found'],
        ['/simple/edge%20demo/', 404, 'project.not_found'],
        [`/simple/${'a'.repeat(201)}/`, 404, 'project.not_found'],
        ['/pypi/edge%20demo/json', 404, 'project.not_found'],
        ['/pypi/edge-demo/1.0%3B%20drop/json', 400, 'version.invalid'],
        ['/pypi/edge%20demo/1.0/json', 404, 'project.not_found'],
        ['/integrity/edge-demo/1.0/..%2Fsecret/provenance', 404, 'file.not_found'],
        ['/rss/project/edge%20demo/releases.xml', 404, 'project.not_found'],
        ['/tuf/..%2Fkeys%2Fonline.json', 404, 'request.not_found'],
      ];
      for (const [path, status, code] of cases) {
        const result = await answer(path);
        assert.equal(result.status, status, path);
        assert.equal(result.body.code, code, `${path}: ${result.text}`);
        assert.ok(String(result.body.message).length > 10, `${path}: the message says what was wrong`);
      }
    });

    test('the web UI answers a parameter outside its schema with its HTML 404 page', async () => {
      for (const path of ['/project/edge%20demo/', '/project/edge-demo/1.0%3Cscript%3E/']) {
        const result = await answer(path);
        assert.equal(result.status, 404, path);
        assert.match(result.type, /^text\/html/, path);
        assert.match(result.text, /<h1>Not found<\/h1>/, path);
        assert.doesNotMatch(result.text, /<script>/, path);
      }
    });

    test('bodies outside the submission and exchange schemas keep their codes and shapes', async () => {
      const notObject = await post('/_/provenance', '[]', 'application/json');
      assert.equal(notObject.status, 400);
      assert.equal(notObject.body.code, 'provenance.malformed');
      assert.match(String(notObject.body.message), /JSON object/);
      const text = await post('/_/provenance', '{}', 'text/plain');
      assert.equal(text.body.code, 'provenance.malformed');
      assert.match(String(text.body.message), /application\/json/);
      const missing = await post('/_/provenance', JSON.stringify({ filename: 'edge_demo-1.0.tar.gz', sha256: 'a'.repeat(64) }), 'application/json');
      assert.equal(missing.body.code, 'provenance.malformed');
      assert.match(String(missing.body.message), /attestations/);

      for (const body of ['{"token": 5}', '{"token": ""}', '"a-token"', '{}']) {
        const refused = await post('/_/oidc/mint-token', body, 'application/json');
        assert.equal(refused.status, 422, body);
        assert.equal(refused.body.code, 'oidc.malformed_token', body);
        assert.equal(refused.body.message, 'Token request failed', body);
        const errors = refused.body.errors as { code: string; description: string }[];
        assert.equal(errors[0]?.code, 'invalid-token', body);
        assert.match(errors[0]?.description ?? '', /token/, body);
      }
    });
  });
}
