import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCairnError } from '../../src/errors.ts';
import { coreMetadataToJsonInfo, parseCoreMetadata } from '../../src/formats/core-metadata.ts';

// The core metadata specification: RFC 822-style headers, continuation lines, multiple-use
// fields, and (Metadata-Version 2.1+) the description as the message body.

const HEAD = 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n';

describe('headers', () => {
  test('required fields and single-use fields', () => {
    const m = parseCoreMetadata(`${HEAD}Summary: A demo\nRequires-Python: >=3.9\nDescription-Content-Type: text/markdown\n`);
    assert.equal(m.metadataVersion, '2.1');
    assert.equal(m.name, 'demo');
    assert.equal(m.version, '1.0');
    assert.equal(m.summary, 'A demo');
    assert.equal(m.requiresPython, '>=3.9');
    assert.equal(m.descriptionContentType, 'text/markdown');
    assert.equal(m.description, undefined);
  });

  const spellings: [string, string, string][] = [
    ['field names are case-insensitive', 'metadata-version: 2.1\nNAME: demo\nversion: 1.0\n', 'demo'],
    ['values are trimmed', 'Metadata-Version: 2.1\nName:    demo   \nVersion: 1.0\n', 'demo'],
    ['CRLF line endings', 'Metadata-Version: 2.1\r\nName: demo\r\nVersion: 1.0\r\n', 'demo'],
    ['CR line endings', 'Metadata-Version: 2.1\rName: demo\rVersion: 1.0\r', 'demo'],
    ['no trailing newline', 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0', 'demo'],
    ['a colon inside the value', 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: a: b\n', 'demo'],
  ];
  for (const [what, text, name] of spellings) {
    test(what, () => {
      const m = parseCoreMetadata(text);
      assert.equal(m.name, name);
      assert.equal(m.version, '1.0');
    });
  }

  test('a colon in the value stays in the value', () => {
    assert.equal(parseCoreMetadata(`${HEAD}Summary: ratio: 3:1\n`).summary, 'ratio: 3:1');
  });

  test('every header is kept by lowercased name, in file order', () => {
    const m = parseCoreMetadata(`${HEAD}Author: Ada\nKeywords: a,b\n`);
    assert.deepEqual([...m.fields.keys()], ['metadata-version', 'name', 'version', 'author', 'keywords']);
    assert.deepEqual(m.fields.get('author'), ['Ada']);
  });
});

describe('continuation lines', () => {
  test('an indented line continues the previous header', () => {
    const m = parseCoreMetadata(`${HEAD}License: MIT License\n    Copyright (c) Ada\n\tAll rights reserved\nAuthor: Ada\n`);
    assert.deepEqual(m.fields.get('license'), ['MIT License\n    Copyright (c) Ada\n\tAll rights reserved']);
    assert.deepEqual(m.fields.get('author'), ['Ada']);
  });

  const descriptions: [string, string, string][] = [
    ['setuptools folds with 7 spaces and |', 'Description: Line one\n       |Line two\n       |\n       |End\n', 'Line one\nLine two\n\nEnd'],
    ['distutils folds with 8 spaces', 'Description: Line one\n        Line two\n        End\n', 'Line one\nLine two\nEnd'],
    [
      'indentation after the | prefix is content (a code block)',
      'Description: Example\n       |\n       |        code()\n       |    more\n',
      'Example\n\n        code()\n    more',
    ],
    ['indentation after the 8-space prefix is content', 'Description: Example\n            code()\n', 'Example\n    code()'],
  ];
  for (const [what, header, expected] of descriptions) {
    test(`Description header: ${what}`, () => {
      assert.equal(parseCoreMetadata(`${HEAD}${header}`).description, expected);
    });
  }
});

describe('multiple-use fields', () => {
  const text = [
    'Metadata-Version: 2.4',
    'Name: demo',
    'Version: 1.0',
    'Classifier: Programming Language :: Python :: 3',
    'Classifier: License :: OSI Approved :: MIT License',
    'Requires-Dist: requests>=2',
    'Requires-Dist: tomli; python_version < "3.11"',
    'Provides-Extra: cli',
    'Project-URL: Homepage, https://example.org',
    'Project-URL: Source Code, https://example.org/src',
    'Project-URL: Issues,https://example.org/issues',
    'Dynamic: license-file',
    'License-File: LICENSE',
    'License-File: NOTICE',
    'Platform: any',
    'Platform: linux',
    '',
  ].join('\n');

  test('keep every value in order', () => {
    const m = parseCoreMetadata(text);
    assert.deepEqual(m.fields.get('classifier'), ['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License']);
    assert.deepEqual(m.fields.get('requires-dist'), ['requests>=2', 'tomli; python_version < "3.11"']);
    assert.deepEqual(m.fields.get('license-file'), ['LICENSE', 'NOTICE']);
    assert.deepEqual(m.fields.get('platform'), ['any', 'linux']);
  });

  test('the JSON API info lists them', () => {
    const info = coreMetadataToJsonInfo(parseCoreMetadata(text));
    assert.deepEqual(info.classifiers, ['Programming Language :: Python :: 3', 'License :: OSI Approved :: MIT License']);
    assert.deepEqual(info.requires_dist, ['requests>=2', 'tomli; python_version < "3.11"']);
    assert.deepEqual(info.provides_extra, ['cli']);
    assert.deepEqual(info.dynamic, ['license-file']);
    assert.deepEqual(info.license_files, ['LICENSE', 'NOTICE']);
    assert.equal(info.platform, 'any');
    assert.equal(info.metadata_version, '2.4');
  });

  test('Project-URL becomes project_urls, split at the first comma', () => {
    const info = coreMetadataToJsonInfo(parseCoreMetadata(text));
    assert.deepEqual(info.project_urls, {
      Homepage: 'https://example.org',
      'Source Code': 'https://example.org/src',
      Issues: 'https://example.org/issues',
    });
  });

  const urlCases: [string, Record<string, string> | null][] = [
    ['Home-page: https://home.example\n', { Homepage: 'https://home.example' }],
    ['Home-page: https://home.example\nProject-URL: Docs, https://docs.example\n', { Docs: 'https://docs.example' }],
    ['Project-URL: Docs, https://docs.example/?a=1,2\n', { Docs: 'https://docs.example/?a=1,2' }],
    ['Project-URL: no comma here\n', null],
    ['Project-URL: , https://nolabel.example\n', null],
    ['', null],
  ];
  for (const [headers, expected] of urlCases) {
    test(`project_urls from ${JSON.stringify(headers)}`, () => {
      assert.deepEqual(coreMetadataToJsonInfo(parseCoreMetadata(`${HEAD}${headers}`)).project_urls, expected);
    });
  }

  test('a single-use field given twice is refused', () => {
    assert.throws(() => parseCoreMetadata(`${HEAD}Summary: one\nSummary: two\n`), (e: unknown) => isCairnError(e) && e.code === 'metadata.invalid' && /'summary' appears 2 times/.test(e.message));
    assert.throws(() => parseCoreMetadata(`${HEAD}Name: again\n`), (e: unknown) => isCairnError(e) && /'name' appears 2 times/.test(e.message));
  });
});

describe('body as description', () => {
  test('the body after the blank line is the description, verbatim', () => {
    const body = '# Demo\n\nSome *markdown*.\n\n    indented code\n\nName: not a header\n';
    const m = parseCoreMetadata(`${HEAD}Description-Content-Type: text/markdown\n\n${body}`);
    assert.equal(m.description, body);
    assert.equal(m.fields.has('name') && m.fields.get('name')!.length, 1, 'headers in the body are not headers');
    assert.equal(coreMetadataToJsonInfo(m).description, body);
  });

  test('the body wins over a Description header', () => {
    assert.equal(parseCoreMetadata(`${HEAD}Description: from the header\n\nfrom the body\n`).description, 'from the body\n');
  });

  test('an empty or blank body leaves the Description header', () => {
    assert.equal(parseCoreMetadata(`${HEAD}Description: from the header\n\n`).description, 'from the header');
    assert.equal(parseCoreMetadata(`${HEAD}Description: from the header\n\n  \n\n`).description, 'from the header');
    assert.equal(parseCoreMetadata(`${HEAD}\n`).description, undefined);
  });

  test('CRLF bodies come out with LF', () => {
    assert.equal(parseCoreMetadata(`${HEAD.replace(/\n/g, '\r\n')}\r\nline 1\r\nline 2\r\n`).description, 'line 1\nline 2\n');
  });
});

describe('invalid metadata', () => {
  const cases: [string, string, RegExp][] = [
    ['no Metadata-Version', 'Name: demo\nVersion: 1.0\n', /'Metadata-Version' is missing/],
    ['no Name', 'Metadata-Version: 2.1\nVersion: 1.0\n', /'Name' is missing/],
    ['no Version', 'Metadata-Version: 2.1\nName: demo\n', /'Version' is missing/],
    ['empty Name', 'Metadata-Version: 2.1\nName:\nVersion: 1.0\n', /'Name' is missing/],
    ['empty text', '', /'Metadata-Version' is missing/],
    ['headers only in the body', '\nMetadata-Version: 2.1\nName: demo\nVersion: 1.0\n', /'Metadata-Version' is missing/],
    ['a continuation with no header before it', '  Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n', /line 1 continues a header that does not exist/],
    ['a line without a colon', `${HEAD}Not a header\n`, /line 4 is not a 'Field: value' header/],
    ['a line starting with a colon', `${HEAD}: value\n`, /line 4 is not a 'Field: value' header/],
    ['too many fields', `${HEAD}${'Classifier: x\n'.repeat(10_000)}`, /too many header fields/],
  ];
  for (const [what, text, reason] of cases) {
    test(what, () => {
      assert.throws(() => parseCoreMetadata(text), (e: unknown) => isCairnError(e) && e.code === 'metadata.invalid' && reason.test(e.message));
    });
  }
});
