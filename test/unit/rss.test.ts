import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderRss, xmlText } from '../../src/formats/rss.ts';

test('xmlText escapes markup and drops what XML 1.0 cannot carry, keeping every other character', () => {
  assert.equal(xmlText(`a<b>&"c"'d'`), 'a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;');
  assert.equal(xmlText('tab\tnew\nline\rret'), 'tab\tnew\nline\rret');
  assert.equal(xmlText('\u0000nul\u0001soh\u000bvt\u001fus\ufffe\uffff'), 'nulsohvtus');
  assert.equal(xmlText('lone \ud800 high, lone \udc00 low'), 'lone  high, lone  low');
  assert.equal(xmlText('pair \ud83d\udce6 kept, é ü 中'), 'pair \ud83d\udce6 kept, é ü 中');
});

test('renderRss writes an RSS 2.0 channel with a self link and RFC 822 dates', () => {
  const xml = renderRss(
    { title: 'T & co', link: 'https://index.example/', description: 'd', selfUrl: 'https://index.example/rss/updates.xml?a=1&b=2' },
    [{ title: 'p 1.0', link: 'https://index.example/project/p/1.0/', description: '<b>', published: new Date('2026-11-25T10:00:00Z'), guid: 'p/1.0' }],
  );
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<rss version="2\.0" xmlns:atom="http:\/\/www\.w3\.org\/2005\/Atom">/);
  assert.match(xml, /<title>T &amp; co<\/title>/);
  assert.match(xml, /<atom:link href="https:\/\/index\.example\/rss\/updates\.xml\?a=1&amp;b=2" rel="self" type="application\/rss\+xml"\/>/);
  assert.match(xml, /<description>&lt;b&gt;<\/description>/);
  assert.match(xml, /<pubDate>Wed, 25 Nov 2026 10:00:00 GMT<\/pubDate>/);
  assert.match(xml, /<guid isPermaLink="false">p\/1\.0<\/guid>/);
  assert.equal(renderRss({ title: 'e', link: 'l', description: 'd', selfUrl: 's' }, []).includes('<item>'), false);
});
