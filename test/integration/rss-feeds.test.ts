import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { provideBuildProvenance } from '../support/provenance.ts';
import { SYSTEM_PYTHON } from '../support/requirements.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * RSS feeds at PyPI's paths. A real XML parser (Python's ElementTree, the same system Python the
 * test distributions are made with) reads every feed, so a feed a reader would reject fails here.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-rss-'));
after(() => rmSync(work, { recursive: true, force: true }));

const HOSTILE_SUMMARY = 'fast <script>alert(1)</script> & "quoted" ]]> \u0001bell';
const OTHER_BUILDER = 'mallory/builder/.github/workflows/build.yml@refs/heads/main';

interface ParsedFeed {
  channel: { title: string; link: string; self: string };
  items: { title: string; link: string; description: string; pubDate: string; guid: string }[];
}

const PARSE = String.raw`
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
assert root.tag == "rss" and root.get("version") == "2.0", root.tag
channel = root.find("channel")
self_link = channel.find("{http://www.w3.org/2005/Atom}link")
items = [{k: (item.findtext(k) or "") for k in ("title", "link", "description", "pubDate", "guid")} for item in channel.findall("item")]
print(json.dumps({"channel": {"title": channel.findtext("title"), "link": channel.findtext("link"), "self": self_link.get("href")}, "items": items}))
`;

async function parseFeed(xml: string): Promise<ParsedFeed> {
  const parsed = await runCommand(SYSTEM_PYTHON, ['-c', PARSE], { input: xml });
  assert.equal(parsed.status, 0, `the feed is not well-formed XML: ${parsed.stderr}\n${xml.slice(0, 2000)}`);
  return JSON.parse(parsed.stdout) as ParsedFeed;
}

for (const { engine, skip } of await testEngines()) {
  describe(`RSS feeds on ${engine}`, { skip }, () => {
    let server: TestServer;
    let auth: string;

    before(async () => {
      server = await startTestServer(engine, { devTrust: true });
      auth = basicAuth(await server.token('new_projects'));
      const dir = mkdtempSync(join(work, `${engine}-`));
      const publish = async (name: string, version: string, options: { summary?: string; builder?: string | null } = {}) => {
        const dist = makeDistribution(dir, { name, version, kind: 'wheel', summary: options.summary ?? `${name} summary` });
        if (options.builder !== null) {
          const provided = await provideBuildProvenance(server, dist.path, options.builder ? { claims: { job_workflow_ref: options.builder } } : {});
          assert.equal(provided.submitted.status, 200, JSON.stringify(provided.submitted.body));
        }
        const uploaded = await uploadFile(server.url, dist.path, auth);
        assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
      };
      await publish('Feed_Pkg', '1.0');
      await publish('Feed_Pkg', '1.1', { summary: HOSTILE_SUMMARY, builder: OTHER_BUILDER });
      await server.services.index.setYanked('feed-pkg', '1.1', true, 'built by <the wrong> builder');
      await publish('Feed_Pkg', '2.0', { builder: null });
      await publish('other-pkg', '0.1', { builder: null });
    });
    after(async () => server?.stop());

    test("a project's feed lists its releases newest first, each with its provenance state and yank", async () => {
      const response = await fetch(`${server.url}/rss/project/feed-pkg/releases.xml`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/rss+xml; charset=utf-8');
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      const xml = await response.text();
      assert.doesNotMatch(xml, /<script/i, 'metadata markup never appears unescaped');
      const feed = await parseFeed(xml);
      assert.equal(feed.channel.title, 'cairn: Feed_Pkg releases');
      assert.equal(feed.channel.link, `${server.url}/project/feed-pkg/`);
      assert.equal(feed.channel.self, `${server.url}/rss/project/feed-pkg/releases.xml`);
      assert.deepEqual(feed.items.map((i) => i.title), ['Feed_Pkg 2.0', 'Feed_Pkg 1.1', 'Feed_Pkg 1.0']);
      assert.deepEqual(feed.items.map((i) => i.link), ['2.0', '1.1', '1.0'].map((v) => `${server.url}/project/feed-pkg/${v}/`));
      assert.deepEqual(feed.items.map((i) => i.guid), ['feed-pkg/2.0', 'feed-pkg/1.1', 'feed-pkg/1.0']);
      const [newest, middle, oldest] = feed.items;
      assert.match(newest!.description, /^Provenance: lost\. /m);
      assert.match(middle!.description, /^Provenance: changed\. /m);
      assert.match(oldest!.description, /^Provenance: full\. /m);
      // The parsed text is the metadata as written, minus the one character XML cannot carry.
      assert.ok(middle!.description.startsWith('fast <script>alert(1)</script> & "quoted" ]]> bell\n'), middle!.description);
      assert.match(middle!.description, /^Yanked: built by <the wrong> builder$/m);
      for (const item of feed.items) assert.ok(!Number.isNaN(Date.parse(item.pubDate)) && item.pubDate.endsWith('GMT'), item.pubDate);
    });

    test('the index-wide feeds list the newest releases and the newest projects', async () => {
      const updates = await parseFeed(await (await fetch(`${server.url}/rss/updates.xml`)).text());
      assert.deepEqual(updates.items.map((i) => i.title), ['other-pkg 0.1', 'Feed_Pkg 2.0', 'Feed_Pkg 1.1', 'Feed_Pkg 1.0']);
      assert.match(updates.items[2]!.description, /\(yanked\)$/);
      const packages = await parseFeed(await (await fetch(`${server.url}/rss/packages.xml`)).text());
      assert.deepEqual(packages.items.map((i) => [i.title, i.link, i.description]), [
        ['other-pkg added to the index', `${server.url}/project/other-pkg/`, 'other-pkg summary'],
        ['Feed_Pkg added to the index', `${server.url}/project/feed-pkg/`, 'Feed_Pkg summary'],
      ]);
    });

    test('the pages announce their feeds to browsers and feed readers', async () => {
      const project = await (await fetch(`${server.url}/project/feed-pkg/`)).text();
      assert.match(project, /<link rel="alternate" type="application\/rss\+xml" title="Feed_Pkg releases" href="\/rss\/project\/feed-pkg\/releases\.xml">/);
      assert.match(project, /<a href="\/rss\/project\/feed-pkg\/releases\.xml">Releases feed \(RSS\)<\/a>/);
      const home = await (await fetch(`${server.url}/`)).text();
      assert.match(home, /<link rel="alternate" type="application\/rss\+xml" title="Newest releases" href="\/rss\/updates\.xml">/);
      assert.match(home, /<link rel="alternate" type="application\/rss\+xml" title="Newest projects" href="\/rss\/packages\.xml">/);
    });

    test('a name in another spelling redirects; an unknown project is a 404 with a code', async () => {
      const redirect = await fetch(`${server.url}/rss/project/FEED.pkg/releases.xml`, { redirect: 'manual' });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get('location'), '/rss/project/feed-pkg/releases.xml');
      const missing = await fetch(`${server.url}/rss/project/no-such-pkg/releases.xml`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { code: string }).code, 'project.not_found');
    });
  });
}
