import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  LEGACY_HTML,
  negotiateSimpleFormat,
  renderProjectHtml,
  renderProjectJson,
  SIMPLE_HTML,
  SIMPLE_JSON,
  type SimpleProject,
} from '../../src/formats/simple-api.ts';

describe('PEP 691 content negotiation', () => {
  const cases: [string | undefined, string | undefined, string | null][] = [
    [undefined, undefined, LEGACY_HTML],
    ['*/*', undefined, LEGACY_HTML],
    ['text/html', undefined, LEGACY_HTML],
    [SIMPLE_JSON, undefined, SIMPLE_JSON],
    // what pip sends
    [`${SIMPLE_JSON}, ${SIMPLE_HTML}; q=0.1, text/html; q=0.01`, undefined, SIMPLE_JSON],
    [`${SIMPLE_JSON}; q=0.2, ${SIMPLE_HTML}; q=0.5`, undefined, SIMPLE_HTML],
    [`${SIMPLE_JSON}; q=0, text/html`, undefined, LEGACY_HTML],
    ['application/xml', undefined, null],
    ['text/html', SIMPLE_JSON, SIMPLE_JSON],
    [undefined, 'application/nonsense', null],
  ];
  for (const [accept, format, expected] of cases) {
    test(`Accept ${accept ?? '(none)'} format=${format ?? '(none)'} → ${expected}`, () => {
      assert.equal(negotiateSimpleFormat(accept, format), expected);
    });
  }
});

describe('simple page rendering', () => {
  const project: SimpleProject = {
    name: 'demo',
    versions: ['1.0'],
    files: [
      {
        filename: 'demo-1.0.tar.gz',
        url: '/files/aa/demo-1.0.tar.gz',
        sha256: 'a'.repeat(64),
        requiresPython: '>=3.8',
        yanked: 'broken "build" <b>',
        coreMetadataSha256: 'b'.repeat(64),
        size: 10,
        uploadTime: '2026-01-01T00:00:00.000Z',
        provenanceUrl: null,
      },
    ],
  };

  test('HTML escapes attribute values and carries PEP 592/658/714 attributes', () => {
    const html = renderProjectHtml(project);
    assert.match(html, /data-requires-python="&gt;=3\.8"/);
    assert.match(html, /data-yanked="broken &quot;build&quot; &lt;b&gt;"/);
    assert.match(html, new RegExp(`data-core-metadata="sha256=${'b'.repeat(64)}"`));
    assert.match(html, new RegExp(`href="/files/aa/demo-1\\.0\\.tar\\.gz#sha256=${'a'.repeat(64)}"`));
    assert.doesNotMatch(html, /<b>/);
  });

  test('JSON carries PEP 700 and PEP 740 keys', () => {
    const body = JSON.parse(renderProjectJson(project)) as { files: Record<string, unknown>[]; versions: string[] };
    assert.deepEqual(body.versions, ['1.0']);
    const [file] = body.files;
    assert.equal(file!.yanked, 'broken "build" <b>');
    assert.equal(file!.size, 10);
    assert.equal(file!.provenance, null);
    assert.deepEqual(file!['core-metadata'], { sha256: 'b'.repeat(64) });
    assert.equal('dist-info-metadata' in file!, false, 'pip 23.0 crashes on the PEP 658 JSON key in object form');
  });
});
