import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { externalLink, html, joinHtml, safeUrl, SafeHtml, trustedHtml } from '../../src/ui/html.ts';
import { descriptionFormat, isAllowedDescriptionLink, renderDescription } from '../../src/ui/markdown.ts';

describe('html templates escape every interpolation', () => {
  test('text and attribute contexts', () => {
    const evil = `<script>alert("x")</script>' onmouseover='y`;
    const out = html`<p title="${evil}">${evil}</p>`.value;
    assert.equal(
      out,
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y</p>',
    );
    assert.ok(!out.includes('<script>'));
  });

  test('ampersands are escaped so entity tricks stay text', () => {
    assert.equal(html`${'&lt;b&gt; &amp; javascript&colon;'}`.value, '&amp;lt;b&amp;gt; &amp;amp; javascript&amp;colon;');
  });

  test('nested templates and trusted fragments are not escaped twice', () => {
    const inner = html`<b>${'a<b'}</b>`;
    assert.equal(html`<p>${inner}</p>`.value, '<p><b>a&lt;b</b></p>');
    assert.equal(html`${trustedHtml('<hr>')}`.value, '<hr>');
  });

  test('arrays are joined, each element escaped; null, undefined and false render nothing', () => {
    assert.equal(html`<ul>${['<a>', html`<li>x</li>`, 3]}</ul>`.value, '<ul>&lt;a&gt;<li>x</li>3</ul>');
    assert.equal(html`[${null}${undefined}${false}]`.value, '[]');
    assert.equal(html`${0}`.value, '0');
    assert.equal(joinHtml(['<x>', html`<y>`], html`, `).value, '&lt;x&gt;, <y>');
  });

  test('the result is a SafeHtml, and only SafeHtml passes unescaped', () => {
    assert.ok(html`x` instanceof SafeHtml);
    // A plain object that looks like SafeHtml is still escaped.
    const lookalike = { value: '<i>' } as unknown as string;
    assert.equal(html`${lookalike}`.value, '[object Object]');
  });
});

describe('safeUrl', () => {
  const cases: [string, string | null][] = [
    ['https://example.com/docs', 'https://example.com/docs'],
    ['http://example.com', 'http://example.com/'],
    ['HTTPS://Example.COM/a?b=c#d', 'https://example.com/a?b=c#d'],
    ['  https://example.com/  ', 'https://example.com/'],
    ['/project/demo/', '/project/demo/'],
    ['docs/index.html', 'docs/index.html'],
    ['#section', '#section'],
    ['?q=x', '?q=x'],
    ['javascript:alert(1)', null],
    ['JavaScript:alert(1)', null],
    [' javascript:alert(1)', null],
    ['java\tscript:alert(1)', null],
    ['java\nscript:alert(1)', null],
    ['\u0001javascript:alert(1)', null],
    ['javascript\u0000:alert(1)', null],
    ['\u00a0javascript:alert(1)', null],
    ['\ufeffjavascript:alert(1)', null],
    ['data:text/html,<script>alert(1)</script>', null],
    ['vbscript:msgbox(1)', null],
    ['file:///etc/passwd', null],
    ['mailto:a@example.com', null],
    ['ftp://example.com/', null],
    ['https:evil.com', 'https://evil.com/'],
    ['http:///nohost', 'http://nohost/'],
    ['https://', null],
    ['/\\evil.com', null],
    ['https://exa mple.com', null],
    ['', null],
    ['   ', null],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(safeUrl(input), expected);
    });
  }

  test('relative URLs can be refused (Project-URL must be absolute)', () => {
    assert.equal(safeUrl('/x', { allowRelative: false }), null);
    assert.equal(safeUrl('https://example.com/x', { allowRelative: false }), 'https://example.com/x');
  });

  test('non-strings are refused', () => {
    assert.equal(safeUrl(null), null);
    assert.equal(safeUrl(undefined), null);
  });

  test('externalLink renders unsafe URLs as inert text and escapes the label', () => {
    assert.equal(externalLink('javascript:alert(1)').value, '<span class="inert-url">javascript:alert(1)</span>');
    assert.equal(
      externalLink('https://example.com/?a=1&b="2"', '<Docs>').value,
      '<a href="https://example.com/?a=1&amp;b=%222%22" rel="nofollow noopener noreferrer">&lt;Docs&gt;</a>',
    );
  });
});

describe('description rendering', () => {
  test('the content type picks the renderer; absent means reStructuredText', () => {
    assert.equal(descriptionFormat('text/markdown; charset=UTF-8; variant=GFM'), 'markdown');
    assert.equal(descriptionFormat('TEXT/MARKDOWN'), 'markdown');
    assert.equal(descriptionFormat('text/plain'), 'plain');
    assert.equal(descriptionFormat('text/x-rst'), 'rst');
    assert.equal(descriptionFormat(undefined), 'rst');
  });

  test('markdown renders, raw HTML is escaped, headings start below the page h1', () => {
    const out = renderDescription('# Title\n\nSome *text* <script>alert(1)</script> <img src=x onerror=alert(1)>', 'text/markdown').value;
    assert.match(out, /<h3>Title<\/h3>/);
    assert.match(out, /<em>text<\/em>/);
    assert.ok(!out.includes('<script'));
    assert.ok(!out.includes('<img'));
    assert.match(out, /&lt;script&gt;/);
  });

  const hostileLinks = [
    '[a](javascript:alert(1))',
    '[a](JAVASCRIPT:alert(1))',
    '[a](java\tscript:alert(1))',
    '[a](&#106;avascript:alert(1))',
    '[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
    '[a](vbscript:msgbox(1))',
    '![a](javascript:alert(1))',
    '<javascript:alert(1)>',
    '[a][r]\n\n[r]: javascript:alert(1)',
  ];
  for (const source of hostileLinks) {
    test(`no live link from ${JSON.stringify(source)}`, () => {
      const out = renderDescription(source, 'text/markdown').value;
      assert.ok(!/\b(href|src)=/i.test(out), out);
      assert.ok(!/<a[\s>]/i.test(out), out);
    });
  }

  test('http(s), mailto and relative links survive; linkify finds bare URLs', () => {
    const out = renderDescription('[docs](https://example.com/docs) [mail](mailto:a@example.com) [rel](/x) see https://example.org/p', 'text/markdown').value;
    assert.match(out, /href="https:\/\/example\.com\/docs" rel="nofollow ugc noopener noreferrer"/);
    assert.match(out, /href="mailto:a@example\.com"/);
    assert.match(out, /href="\/x"/);
    assert.match(out, /href="https:\/\/example\.org\/p"/);
  });

  test('plain text and reStructuredText are escaped preformatted text', () => {
    const rst = 'Title\n=====\n\n.. raw:: html\n\n   <script>alert(1)</script>\n';
    for (const type of ['text/x-rst', 'text/plain', undefined]) {
      const out = renderDescription(rst, type).value;
      assert.ok(out.startsWith('<pre class="description plain">'), out);
      assert.ok(out.includes('&lt;script&gt;'));
      assert.ok(!out.includes('<script'));
    }
  });

  test('the markdown link validator', () => {
    assert.equal(isAllowedDescriptionLink('https://x.org'), true);
    assert.equal(isAllowedDescriptionLink('mailto:x@y.org'), true);
    assert.equal(isAllowedDescriptionLink('javascript:x'), false);
    assert.equal(isAllowedDescriptionLink('data:image/png;base64,AAAA'), false);
  });

  test('an empty description says so', () => {
    assert.match(renderDescription('  \n', 'text/markdown').value, /no description/);
  });
});
