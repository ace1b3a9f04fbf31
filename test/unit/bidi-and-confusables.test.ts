import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { balanceBidiControls, isolateBidi, stripBidiControls } from '../../src/formats/bidi.ts';
import { ultranormalizeProjectName } from '../../src/formats/project-name.ts';
import { renderRss } from '../../src/formats/rss.ts';
import { html } from '../../src/ui/html.ts';

const RLO = '\u202e';
const PDF = '\u202c';
const FSI = '\u2068';
const PDI = '\u2069';
const RLI = '\u2067';

describe('bidi controls in metadata (issue 11)', () => {
  test('text without controls is unchanged', () => {
    assert.equal(isolateBidi('plain summary'), 'plain summary');
    assert.equal(isolateBidi('שלום עולם'), 'שלום עולם', 'right-to-left letters alone need no isolation');
  });

  test('an unclosed override is closed and the text isolated', () => {
    assert.equal(isolateBidi(`a${RLO}gnp.exe`), `${FSI}a${RLO}gnp.exe${PDF}${PDI}`);
  });

  test('a stray PDI cannot end the isolate early, nor a stray PDF close an outer embedding', () => {
    assert.equal(balanceBidiControls(`${PDI}${RLO}x`), `${RLO}x${PDF}`);
    assert.equal(balanceBidiControls(`${PDF}${PDF}y`), 'y');
    // A PDI closes the embeddings opened inside its isolate first, explicitly.
    assert.equal(balanceBidiControls(`${RLI}a${RLO}b${PDI}c`), `${RLI}a${RLO}b${PDF}${PDI}c`);
    assert.equal(balanceBidiControls(`${RLI}${RLO}`), `${RLI}${RLO}${PDF}${PDI}`);
  });

  test('html templates isolate interpolated values, in text and in attributes', () => {
    const out = html`<p title="${`t${RLO}x`}">${`s${RLO}y`} after</p>`.value;
    assert.equal(out, `<p title="${FSI}t${RLO}x${PDF}${PDI}">${FSI}s${RLO}y${PDF}${PDI} after</p>`);
  });

  test('feeds strip them', () => {
    assert.equal(stripBidiControls(`a\u202ab\u2066c\u200ed\u200f${RLO}e`), 'abcde');
    const xml = renderRss(
      { title: `t${RLO}`, link: 'https://x.example/', description: 'd', selfUrl: 'https://x.example/rss' },
      [{ title: `evil${RLO}gnp.exe`, link: 'https://x.example/p/', description: `summary ${RLO}${PDI}`, published: new Date(0), guid: 'g' }],
    );
    assert.doesNotMatch(xml, /[\u202a-\u202e\u2066-\u2069\u200e\u200f]/);
    assert.match(xml, /evilgnp\.exe/);
  });
});

describe('ultranormalized project names (PyPI confusables)', () => {
  for (const [a, b] of [
    ['example', 'examp1e'],
    ['example', 'EXAMPLE'],
    ['example', 'ex-ample'],
    ['foo-bar', 'foobar'],
    ['foo.bar', 'f00_bar'],
    ['pil', 'p1l'],
    ['django', 'djang0'],
  ] as const) {
    test(`${a} and ${b} look alike`, () => assert.equal(ultranormalizeProjectName(a), ultranormalizeProjectName(b)));
  }
  test('different names stay different', () => {
    assert.notEqual(ultranormalizeProjectName('example'), ultranormalizeProjectName('examples'));
    assert.notEqual(ultranormalizeProjectName('requests'), ultranormalizeProjectName('request'));
  });
});
