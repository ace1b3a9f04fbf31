import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeHtml } from '../../src/formats/html-escape.ts';
import { startTestServer, testEngines, type TestServer } from '../support/server.ts';
import {
  BUILD_COMMIT,
  BUILD_REPOSITORY,
  BUILDER_ID,
  EMPTY_PROJECT,
  EVIL_PROJECT,
  HOSTILE,
  PROVENANCE_PROJECT,
  SEARCH_FILLER,
  seedUiCorpus,
  YANK_REASON,
} from '../support/ui-corpus.ts';

/**
 * The web UI over the real server on both engines: status codes, redirects, headers, the pages'
 * content and the JSON API's provenance state. The browser suite (test/e2e) checks what a person
 * sees; this one checks what the server sends.
 */

async function get(server: TestServer, path: string) {
  const response = await fetch(`${server.url}${path}`, { redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Every href/src attribute value in the page. */
function urlAttributes(page: string): string[] {
  return [...page.matchAll(/\b(?:href|src|action)\s*=\s*"([^"]*)"/gi)].map((m) => m[1]!);
}

for (const { engine, skip } of await testEngines()) {
  describe(`web UI (${engine})`, { skip }, () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer(engine, { devTrust: true });
      await seedUiCorpus(server);
    });
    after(async () => server?.stop());

    test('pages carry a CSP without inline script, nosniff and a referrer policy', async () => {
      for (const path of ['/', '/search?q=demo', `/project/${PROVENANCE_PROJECT}/`, `/project/${PROVENANCE_PROJECT}/1.1/`, '/project/no-such-project/']) {
        const { headers } = await get(server, path);
        const csp = headers.get('content-security-policy') ?? '';
        assert.match(csp, /script-src 'self'(;|$)/, path);
        assert.match(csp, /default-src 'self'/);
        assert.match(csp, /object-src 'none'/);
        assert.match(csp, /base-uri 'none'/);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
        assert.equal(headers.get('x-content-type-options'), 'nosniff');
        assert.equal(headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
        assert.match(headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
      }
    });

    test('home shows counts and recent uploads', async () => {
      const { status, body } = await get(server, '/');
      assert.equal(status, 200);
      assert.match(body, new RegExp(`<dt>Projects</dt><dd>${5 + SEARCH_FILLER}</dd>`));
      assert.match(body, /href="\/project\/filler-lib-24\/0\.1\/"/);
      // Each recent upload shows its provenance badge; the dev trust domain's is marked.
      assert.match(body, /href="\/project\/long-builder-urls\/3\.0\/"[\s\S]*?class="badge badge-full"[^>]*>Provenance<\/span> <span class="tag tag-devtrust"/);
      assert.match(body, /href="\/project\/filler-lib-24\/0\.1\/"[\s\S]*?class="badge badge-none"[^>]*>No provenance</);
    });

    test('search matches names and summaries, exact names first, and pages', async () => {
      const byName = await get(server, '/search?q=Demo_Provenance');
      assert.match(byName.body, /1 project</);
      assert.match(byName.body, /href="\/project\/demo-provenance\/"/);
      const bySummary = await get(server, '/search?q=FILLER%20LIBRARY');
      assert.match(bySummary.body, new RegExp(`${SEARCH_FILLER} projects, showing 1–20`));
      assert.match(bySummary.body, /rel="next"/);
      const second = await get(server, '/search?q=filler+library&page=2');
      assert.match(second.body, new RegExp(`showing 21–${SEARCH_FILLER}`));
      assert.equal([...second.body.matchAll(/class="card"/g)].length, SEARCH_FILLER - 20);
      assert.match(second.body, /rel="prev"/);
      const none = await get(server, '/search?q=%25');
      assert.match(none.body, /No project matches/);
      const exactFirst = await get(server, '/search?q=filler-lib-1');
      assert.match(exactFirst.body, /<a href="\/project\/filler-lib-1\/">filler-lib-1<\/a>/);
      assert.ok(exactFirst.body.indexOf('/project/filler-lib-1/') < exactFirst.body.indexOf('/project/filler-lib-10/'));
    });

    test('project page: latest version, install command, history with provenance badges, links', async () => {
      const { status, body } = await get(server, `/project/${PROVENANCE_PROJECT}/`);
      assert.equal(status, 200);
      assert.match(body, /<h1>demo-provenance <span class="version">1\.1<\/span><\/h1>/);
      assert.ok(body.includes(`pip install --index-url ${server.url}/simple/ ${PROVENANCE_PROJECT}`));
      assert.match(body, /<h3>Demo<\/h3>/);
      assert.match(body, /<strong>files say where they came from<\/strong>/);
      assert.match(body, /class="badge badge-full"[^>]*>Provenance</);
      assert.match(body, /class="badge badge-none"[^>]*>No provenance</);
      assert.ok(body.includes(`href="https://github.com/${BUILD_REPOSITORY}"`));
      // History newest first; the yanked release is marked, with its reason as text.
      const versions = [...body.matchAll(/class="release-version" href="[^"]*">([^<]+)</g)].map((m) => m[1]);
      assert.deepEqual(versions, ['1.1', '1.0', '0.9']);
      assert.match(body, /<li class="release-item is-yanked">[\s\S]*?0\.9[\s\S]*?<span class="tag tag-yanked">yanked<\/span>/);
      assert.ok(body.includes(`Yanked: ${escapeHtml(YANK_REASON)}`));
    });

    test('a project without releases still has a page', async () => {
      const { status, body } = await get(server, `/project/${EMPTY_PROJECT}/`);
      assert.equal(status, 200);
      assert.match(body, /No releases yet/);
      assert.match(body, /The project has no description/);
    });

    test('a yanked release page says so', async () => {
      const { status, body } = await get(server, `/project/${PROVENANCE_PROJECT}/0.9/`);
      assert.equal(status, 200);
      assert.match(body, /<strong>Yanked\.<\/strong>/);
      assert.ok(body.includes(`Reason: ${escapeHtml(YANK_REASON)}`));
    });

    test('release page: files with provenance summary and verified facts', async () => {
      const { status, body } = await get(server, `/project/${PROVENANCE_PROJECT}/1.1/`);
      assert.equal(status, 200);
      const summary = `Built by ${BUILDER_ID.replace('https://github.com/', '')} from ${BUILD_REPOSITORY}@${BUILD_COMMIT.slice(0, 7)} (submitted before upload)`;
      assert.equal(body.split(summary).length - 1, 2, 'one summary per file');
      assert.ok(body.includes(`<span class="url" data-fact="builder">${BUILDER_ID}</span>`));
      // Signed through the dev trust domain: marked, and its GitHub-looking facts are not links.
      assert.ok(body.includes(`<span data-fact="commit"><code>${BUILD_COMMIT}</code></span>`));
      assert.ok(!body.includes(`/commit/${BUILD_COMMIT}`));
      assert.match(body, /<p class="notice notice-devtrust" role="note"><strong>dev trust domain — not for production\.<\/strong>/);
      assert.match(body, /<span class="verified verified-devtrust">verified against the dev trust domain — not for production<\/span>/);
      assert.ok(body.includes(`/integrity/${PROVENANCE_PROJECT}/1.1/demo_provenance-1.1-py3-none-any.whl/provenance`));
      assert.ok(body.includes(`cairn verify &#39;${PROVENANCE_PROJECT}==1.1&#39; --index ${server.url} --dev-trust ${server.url}/_/dev`));
      assert.match(body, /&quot;commit&quot;: &quot;0123456789abcdef/);
      const older = await get(server, `/project/${PROVENANCE_PROJECT}/1.0/`);
      assert.equal(older.body.split('<span class="prov-line prov-none">No provenance</span>').length - 1, 2);
      assert.match(older.body, /not the latest release/);
    });

    test('names and versions redirect to their normal form; trailing slash is added', async () => {
      const cases: [string, string][] = [
        ['/project/Demo_Provenance/', `/project/${PROVENANCE_PROJECT}/`],
        [`/project/${PROVENANCE_PROJECT}`, `/project/${PROVENANCE_PROJECT}/`],
        ['/project/DEMO.provenance/1.1/', `/project/${PROVENANCE_PROJECT}/1.1/`],
        [`/project/${PROVENANCE_PROJECT}/1.1`, `/project/${PROVENANCE_PROJECT}/1.1/`],
        [`/project/${PROVENANCE_PROJECT}/v1.1/`, `/project/${PROVENANCE_PROJECT}/1.1/`],
      ];
      for (const [from, to] of cases) {
        const { status, headers } = await get(server, from);
        assert.equal(status, 301, from);
        assert.equal(headers.get('location'), to, from);
      }
    });

    test('unknown projects, releases and invalid versions answer an HTML 404 page', async () => {
      for (const path of ['/project/no-such-project/', `/project/${PROVENANCE_PROJECT}/9.9/`, `/project/${PROVENANCE_PROJECT}/not-a-version/`]) {
        const { status, body } = await get(server, path);
        assert.equal(status, 404, path);
        assert.match(body, /<h1>Not found<\/h1>/);
      }
    });

    test('hostile metadata is escaped and yields no javascript:, data: or vbscript: URL', async () => {
      const project = await get(server, `/project/${EVIL_PROJECT}/`);
      const release = await get(server, `/project/${EVIL_PROJECT}/1.0/`);
      const search = await get(server, `/search?q=${encodeURIComponent('<script>')}`);
      for (const page of [project.body, release.body, search.body]) {
        assert.ok(!page.includes('<script>window'), 'no raw script element from metadata');
        assert.ok(!/<img[^>]*onerror/i.test(page), 'no raw img from metadata');
        assert.ok(!/<a href="javascript/i.test(page));
        for (const url of urlAttributes(page)) {
          assert.ok(/^(https?:\/\/|\/|\?|#|mailto:)/.test(url), `unexpected URL attribute ${url}`);
        }
        // The only scripts are the site's own, external ones.
        assert.deepEqual([...page.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]), [page.match(/<script src="\/static\/cairn\.js\?v=[0-9a-f]+" defer>/)![0]]);
      }
      assert.ok(project.body.includes(escapeHtml(HOSTILE.summary)), 'the summary shows as text');
      assert.ok(project.body.includes(`<dd>${escapeHtml(HOSTILE.author)}</dd>`), 'the author shows as text');
      assert.ok(project.body.includes('href="https://example.com/evil-docs"'));
      assert.ok(project.body.includes('<span class="inert-url">javascript:window.__pwned=&quot;project-url&quot;</span>'));
      assert.ok(release.body.includes(`>${escapeHtml(HOSTILE.filename)}</a>`), 'the crafted filename shows as text');
      assert.ok(release.body.includes(`href="${escapeHtml(`/files/${'e'.repeat(64)}/${encodeURIComponent(HOSTILE.filename)}`)}"`), 'its download URL is encoded');
    });

    test('static assets are served with long caching when versioned', async () => {
      const home = await get(server, '/');
      const css = home.body.match(/href="(\/static\/cairn\.css\?v=[0-9a-f]+)"/)![1]!;
      const versioned = await get(server, css);
      assert.equal(versioned.status, 200);
      assert.match(versioned.headers.get('content-type') ?? '', /^text\/css/);
      assert.match(versioned.headers.get('cache-control') ?? '', /immutable/);
      const js = await get(server, '/static/cairn.js');
      assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
      assert.match(js.headers.get('cache-control') ?? '', /max-age=300/);
      assert.equal((await get(server, '/static/../package.json')).status, 404);
      assert.equal((await get(server, '/static/nope.css')).status, 404);
    });

    test('the JSON API reports each release\'s provenance state', async () => {
      const latest = JSON.parse((await get(server, `/pypi/${PROVENANCE_PROJECT}/json`)).body) as { info: { version: string; provenance_state: unknown } };
      assert.equal(latest.info.version, '1.1');
      assert.deepEqual(latest.info.provenance_state, { state: 'full', explanation: 'All 2 files carry provenance.' });
      const older = JSON.parse((await get(server, `/pypi/${PROVENANCE_PROJECT}/1.0/json`)).body) as { info: { provenance_state: { state: string } } };
      assert.equal(older.info.provenance_state.state, 'none');
    });
  });
}
