import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { startProxyServer } from '../../src/client/proxy/proxy-app.ts';
import { VerifyingProxy } from '../../src/client/proxy/index.ts';
import { loadExtraRoots, VerifyCache } from '../../src/client/verify/index.ts';
import { parsePolicy } from '../../src/policy/index.ts';
import { devTrustBase } from '../support/provenance.ts';
import { skipUnless } from '../support/requirements.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import {
  ALL_YANKED_PROJECT,
  BUILD_COMMIT,
  BUILD_REPOSITORY,
  BUILDER_ID,
  EVIL_PROJECT,
  LONG_BUILDER_PROJECT,
  LONG_BUILDER_WORKFLOW,
  PROVENANCE_PROJECT,
  seedUiCorpus,
  type UiCorpus,
} from '../support/ui-corpus.ts';

const DEV_TRUST_LABEL = 'dev trust domain — not for production';

/**
 * The web UI in a real browser (Debian's chromium driven by playwright-core): a reader searches,
 * opens a project whose files were built and signed through the dev trust domain, opens the
 * provenance panel and sees who built it from what. Hostile metadata must never run or link, and
 * axe-core must find no serious or critical accessibility problem. Screenshots at phone and
 * desktop widths land in test-artifacts/screenshots/.
 */
const CHROMIUM = '/usr/bin/chromium';
const skip = skipUnless(existsSync(CHROMIUM), 'Debian chromium at /usr/bin/chromium');
/**
 * Clicks a copy button and answers the first label it changes to. The label shows "Copied" only
 * for a moment after the (asynchronous) clipboard write, so every change is recorded in the page:
 * a slow machine cannot read it only after it has reset.
 */
async function clickCopy(button: Locator): Promise<string> {
  // Page-side code as text: tsx would wrap inner functions in a helper the page does not have.
  const find = `document.querySelector(${JSON.stringify(`button[aria-label="${await button.getAttribute('aria-label')}"]`)})`;
  await button.page().evaluate(`(() => {
    const element = ${find};
    element.seenLabels = [];
    new MutationObserver(() => element.seenLabels.push(element.textContent)).observe(element, { childList: true, characterData: true, subtree: true });
  })()`);
  await button.click();
  return (await button.page().evaluate(`new Promise((resolve) => {
    const element = ${find};
    const check = () => (element.seenLabels.length > 0 ? resolve(element.seenLabels[0]) : setTimeout(check, 20));
    check();
  })`)) as string;
}

const SCREENSHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
const AXE = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

describe('web UI in a browser', { skip }, () => {
  let server: TestServer;
  let corpus: UiCorpus;
  let browser: Browser;
  let context: BrowserContext;
  /** Dialogs and script that ran from page content: any entry fails the security test. */
  const incidents: string[] = [];

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await startTestServer('sqlite', { devTrust: true });
    corpus = await seedUiCorpus(server);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ baseURL: server.url, viewport: DESKTOP });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    context.on('page', (page) => watch(page));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  function watch(page: Page): void {
    page.on('dialog', (dialog) => {
      incidents.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => incidents.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A CSP report means markup got through escaping and only the policy stopped it.
      if (/Content Security Policy|Refused to/i.test(message.text())) incidents.push(`console: ${message.text()}`);
    });
  }

  async function shoot(page: Page, name: string): Promise<void> {
    for (const [label, viewport] of [
      ['phone', PHONE],
      ['desktop', DESKTOP],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.screenshot({ path: `${SCREENSHOTS}${name}-${label}.png`, fullPage: true });
    }
    await page.setViewportSize(DESKTOP);
  }

  test('home: counts, recent uploads and a search that finds the project', async () => {
    const page = await context.newPage();
    await page.goto('/');
    assert.equal(await page.title(), 'Home · cairn');
    assert.match(await page.locator('h1').innerText(), /origin you can check/);
    assert.equal(await page.locator('.stat').count(), 3);
    // Recent uploads carry their provenance badge; the dev trust domain's is marked as such.
    const cards = page.locator('.card-list .card');
    assert.match(await cards.nth(0).innerText(), new RegExp(`${LONG_BUILDER_PROJECT} 3\\.0[\\s\\S]*Provenance\\s+${DEV_TRUST_LABEL}`));
    assert.match(await cards.nth(1).innerText(), /No provenance/);
    assert.equal(await cards.locator('.badge').count(), await cards.count(), 'every recent upload shows a badge');
    await shoot(page, 'home');

    await page.getByLabel('Find a project').fill('demo provenance');
    await page.getByLabel('Find a project').press('Enter');
    await page.waitForURL(/\/search\?q=demo\+provenance/);
    // "demo provenance" is not in a name (they use '-'), but it is in the summary.
    const results = page.locator('.results .card-title a');
    assert.deepEqual(await results.allInnerTexts(), [PROVENANCE_PROJECT]);
    await shoot(page, 'search');

    await page.locator('#site-search').fill('filler');
    await page.locator('#site-search').press('Enter');
    await page.waitForURL(/\/search\?q=filler/);
    assert.equal(await page.locator('.results .card').count(), 20);
    await page.getByRole('link', { name: 'Next →' }).click();
    await page.waitForURL(/page=2/);
    assert.equal(await page.locator('.results .card').count(), 5);
    await page.close();
  });

  test('project page: description, install command, history with badges', async () => {
    const page = await context.newPage();
    await page.goto('/search?q=demo-provenance');
    await page.locator('.results .card-title a', { hasText: PROVENANCE_PROJECT }).click();
    await page.waitForURL(`**/project/${PROVENANCE_PROJECT}/`);
    assert.equal(await page.locator('h1').innerText(), `${PROVENANCE_PROJECT} 1.1`);
    assert.match(await page.locator('.description').innerText(), /files say where they came from/);
    assert.ok((await page.locator('.command code').first().innerText()).startsWith(`pip install --index-url ${server.url}/simple/`));
    const history = page.locator('.release-item');
    assert.equal(await history.count(), 3);
    assert.match(await history.nth(0).innerText(), new RegExp(`1\\.1[\\s\\S]*latest[\\s\\S]*Provenance\\s+${DEV_TRUST_LABEL}`));
    assert.match(await page.locator('.head-badge').innerText(), new RegExp(DEV_TRUST_LABEL));
    assert.match(await page.locator('.notice-devtrust').innerText(), /The provenance of 1\.1 was signed through this index's dev trust domain/);
    assert.match(await history.nth(1).innerText(), /1\.0[\s\S]*No provenance/);
    assert.match(await history.nth(2).innerText(), /0\.9[\s\S]*yanked[\s\S]*Yanked: broken <b>packaging<\/b>/);

    // Copy buttons appear only with JavaScript, and copy the exact command.
    const copy = page.getByRole('button', { name: 'Copy install command' });
    assert.equal(await copy.isVisible(), true);
    assert.equal(await clickCopy(copy), 'Copied');
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), `pip install --index-url ${server.url}/simple/ ${PROVENANCE_PROJECT}`);
    await shoot(page, 'project');
    await page.close();
  });

  test('release page: the provenance panel shows the builder, repository and commit', async () => {
    const page = await context.newPage();
    await page.goto(`/project/${PROVENANCE_PROJECT}/`);
    await page.locator('.release-version', { hasText: '1.1' }).click();
    await page.waitForURL(`**/project/${PROVENANCE_PROJECT}/1.1/`);

    const wheel = corpus.provenanceFiles.find((f) => f.filename.endsWith('.whl'))!;
    const panel = page.locator(`details[data-filename="${wheel.filename}"]`);
    const summary = panel.locator('summary');
    assert.equal(
      (await summary.locator('.prov-line').innerText()).trim(),
      `Built by ${BUILDER_ID.replace('https://github.com/', '')} from ${BUILD_REPOSITORY}@${BUILD_COMMIT.slice(0, 7)} (submitted before upload)`,
    );
    assert.equal(await panel.locator('[data-fact="builder"]').isVisible(), false, 'closed until asked');
    await summary.click();
    assert.equal(await panel.getAttribute('open'), '');
    assert.equal(await panel.locator('[data-fact="builder"]').innerText(), BUILDER_ID);
    // The dev trust domain certifies whatever it is asked: its GitHub-looking facts are shown, never
    // linked, and the panel, the page head and the summary say whose they are.
    assert.equal(await panel.locator('[data-fact="repository"]').innerText(), `https://github.com/${BUILD_REPOSITORY}`);
    assert.equal(await panel.locator('[data-fact="commit"]').innerText(), BUILD_COMMIT);
    assert.equal(await panel.locator('[data-fact="repository"] a, [data-fact="commit"] a').count(), 0, 'no live github.com link');
    assert.equal(await panel.locator('.verified-devtrust').innerText(), `verified against the ${DEV_TRUST_LABEL}`);
    assert.equal(await panel.locator('.verified:not(.verified-devtrust)').count(), 0, 'no green "verified" for the dev trust domain');
    assert.equal(await summary.locator('.tag-devtrust').innerText(), DEV_TRUST_LABEL);
    assert.match(await page.locator('.notice-devtrust').innerText(), new RegExp(`^${DEV_TRUST_LABEL}\\.`));
    assert.match(await panel.innerText(), /Signer issuer\s+http:\/\/127\.0\.0\.1:\d+\/_\/dev\/oidc/);
    assert.match(await panel.innerText(), /Transparency log index\s+\d+/);

    // The raw attestation link answers the PEP 740 provenance object for this very file.
    const raw = await panel.getByRole('link', { name: 'integrity API' }).getAttribute('href');
    const provenance = (await (await fetch(`${server.url}${raw}`)).json()) as { attestation_bundles: unknown[] };
    assert.equal(provenance.attestation_bundles.length, 1);
    assert.match(await panel.locator('.command code').innerText(), new RegExp(`^cairn verify '${PROVENANCE_PROJECT}==1\\.1' --index `));

    const copySha = page.getByRole('button', { name: `Copy SHA-256 of ${wheel.filename}` });
    assert.equal(await clickCopy(copySha), 'Copied');
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), wheel.sha256);
    await shoot(page, 'release-provenance');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${SCREENSHOTS}release-provenance-dark-desktop.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.close();
  });

  test('at 390 px nothing scrolls sideways, long builder URLs included', async () => {
    const page = await context.newPage();
    await page.setViewportSize(PHONE);
    const overflowing = `(() => {
      const width = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth <= width) return [];
      return [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5)
        .slice(-5)
        .map((e) => e.tagName.toLowerCase() + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 60));
    })()`;
    for (const path of ['/', `/project/${PROVENANCE_PROJECT}/`, `/project/${PROVENANCE_PROJECT}/1.1/`, `/project/${LONG_BUILDER_PROJECT}/`, `/project/${LONG_BUILDER_PROJECT}/3.0/`]) {
      await page.goto(path);
      for (const details of await page.locator('details').all()) await details.locator('summary').click();
      assert.deepEqual(await page.evaluate(overflowing), [], `${path} scrolls sideways at ${PHONE.width} px`);
    }
    // The long identity is all there, wrapped.
    const escaped = LONG_BUILDER_WORKFLOW.replace(/[.?*+^$()[\]{}|\\]/g, '\\$&');
    assert.match(await page.locator('[data-fact="builder"]').first().innerText(), new RegExp(escaped));
    // The stranger's rebuild is listed apart, its long identity wrapped too.
    assert.match(await page.locator('.third-party [data-fact="builder"]').innerText(), /an-independent-rebuilder-collective/);
    assert.match(await page.locator('.prov-third-party').innerText(), /^Also attested by an-independent-rebuilder-collective\//);
    await page.screenshot({ path: `${SCREENSHOTS}release-long-builder-phone.png`, fullPage: true });

    // The verifying proxy's page, where pip users land to learn why a file is listed or hidden.
    const cache = mkdtempSync(join(tmpdir(), 'cairn-ui-proxy-'));
    const base = devTrustBase(server);
    const proxy = await startProxyServer(
      new VerifyingProxy({
        upstream: server.url,
        policy: parsePolicy(`version = 1\n[defaults]\nrequire = "build"\n[[builders]]\nissuer = "${base}/oidc"\nidentity = "https://github.com/an-organisation-with-a-rather-long-name/**"\n`, 'ui-proxy-policy.toml'),
        trustedRoots: await loadExtraRoots([`${base}/trusted_root.json`], { cache: new VerifyCache(cache), offline: false }),
        cacheDir: cache,
      }),
      { port: 0 },
    );
    try {
      for (const name of [LONG_BUILDER_PROJECT, PROVENANCE_PROJECT]) {
        await page.goto(`${proxy.url}/project/${name}/`);
        for (const details of await page.locator('details').all()) await details.locator('summary').click();
        assert.deepEqual(await page.evaluate(overflowing), [], `the proxy's page of ${name} scrolls sideways at ${PHONE.width} px`);
        if (name === LONG_BUILDER_PROJECT) {
          assert.match(await page.locator('body').innerText(), new RegExp(escaped));
          await page.screenshot({ path: `${SCREENSHOTS}proxy-project-phone.png`, fullPage: true });
        }
      }
    } finally {
      await proxy.close();
      rmSync(cache, { recursive: true, force: true });
    }
    await page.close();
  });

  test('a project whose every release is yanked pins the version in its install command', async () => {
    const page = await context.newPage();
    await page.goto(`/project/${ALL_YANKED_PROJECT}/`);
    assert.equal(await page.locator('.command code').first().innerText(), `pip install --index-url ${server.url}/simple/ ${ALL_YANKED_PROJECT}==2.0`);
    assert.match(await page.locator('.notice-warning').innerText(), /Every release of this project is yanked/);
    await page.close();
  });

  test('hostile metadata never runs and never becomes a live link', async () => {
    const page = await context.newPage();
    const before = incidents.length;
    for (const path of [`/project/${EVIL_PROJECT}/`, `/project/${EVIL_PROJECT}/1.0/`, `/search?q=${encodeURIComponent('<script>')}`, '/']) {
      await page.goto(path);
      await page.waitForLoadState('load');
      // Open every panel so any markup inside them is rendered too.
      for (const details of await page.locator('details').all()) await details.locator('summary').click();
      assert.equal(await page.evaluate('typeof window.__pwned'), 'undefined', path);
      const urls = (await page.evaluate(
        `[...document.querySelectorAll('[href],[src],[action],[formaction]')].map((e) => e.href || e.src || e.action || e.getAttribute('formaction'))`,
      )) as string[];
      for (const url of urls) assert.match(url, /^(https?:|mailto:)/, `${path}: ${url}`);
      const scripts = (await page.evaluate(`[...document.scripts].map((s) => s.src)`)) as string[];
      assert.deepEqual(scripts.map((s) => new URL(s).pathname), ['/static/cairn.js'], path);
    }
    // The hostile text is visible as text.
    await page.goto(`/project/${EVIL_PROJECT}/`);
    assert.match(await page.locator('.summary').innerText(), /<script>window\.__pwned = 'summary'<\/script>/);
    assert.match(await page.locator('.link-list').innerText(), /javascript:window\.__pwned="project-url"/);
    assert.match(await page.locator('.description').innerText(), /\[click me\]\(javascript:/);
    await page.goto(`/project/${EVIL_PROJECT}/1.0/`);
    assert.match(await page.locator('table.files').innerText(), /<script>window\.__pwned='filename'<\/script>/);
    assert.deepEqual(incidents.slice(before), []);
    await page.close();
  });

  test('the Content-Security-Policy stops inline script in the page', async () => {
    const page = await context.newPage();
    const response = await page.goto(`/project/${PROVENANCE_PROJECT}/`);
    assert.match(response!.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    const ran = await page.evaluate(`(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.appendChild(s);
      const img = document.createElement('img');
      img.setAttribute('onerror', 'window.__inline = 2');
      img.src = '/nonexistent.png';
      document.body.appendChild(img);
      return new Promise((resolve) => setTimeout(() => resolve(window.__inline ?? null), 200));
    })()`);
    assert.equal(ran, null);
    await page.close();
  });

  test('axe-core finds no serious or critical violations (light and dark)', async () => {
    // The policy forbids inline script, and playwright injects axe as one; only this context bypasses it.
    const axeContext = await browser.newContext({ baseURL: server.url, viewport: DESKTOP, bypassCSP: true });
    const page = await axeContext.newPage();
    const wheel = corpus.provenanceFiles.find((f) => f.filename.endsWith('.whl'))!;
    const pages = ['/', '/search?q=filler', `/project/${PROVENANCE_PROJECT}/`, `/project/${PROVENANCE_PROJECT}/1.1/`, `/project/${EVIL_PROJECT}/`, '/project/missing/'];
    const problems: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const viewport of [DESKTOP, PHONE]) {
        await page.setViewportSize(viewport);
        for (const path of pages) {
          await page.goto(path);
          if (path.endsWith('/1.1/')) await page.locator(`details[data-filename="${wheel.filename}"] summary`).click();
          await page.addScriptTag({ path: AXE });
          const violations = (await page.evaluate(
            `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
          )) as AxeViolation[];
          for (const v of violations) {
            if (v.impact === 'serious' || v.impact === 'critical') {
              problems.push(`${scheme} ${viewport.width}px ${path}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.slice(0, 3).map((n) => n.target))}`);
            }
          }
        }
      }
    }
    await axeContext.close();
    assert.deepEqual(problems, []);
  });
});
