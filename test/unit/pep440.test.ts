import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCairnError } from '../../src/errors.ts';
import { compareVersions, isPrerelease, normalizeVersion, parseVersion } from '../../src/formats/pep440.ts';

// Vectors follow PEP 440's normalisation and ordering sections (and what pip's `packaging` does).

describe('PEP 440 normalisation', () => {
  const cases: [string, string][] = [
    ['1.0', '1.0'],
    ['1.0.0', '1.0.0'],
    ['v1.0', '1.0'],
    ['V2.1', '2.1'],
    ['  1.0  ', '1.0'],
    ['01.002.0003', '1.2.3'],
    ['0!1.0', '1.0'],
    ['1!1.0', '1!1.0'],
    ['001!2.0', '1!2.0'],
    // pre-releases: spellings, separators, implicit number
    ['1.0a1', '1.0a1'],
    ['1.0alpha1', '1.0a1'],
    ['1.0-A1', '1.0a1'],
    ['1.0.b2', '1.0b2'],
    ['1.0beta2', '1.0b2'],
    ['1.0c3', '1.0rc3'],
    ['1.0pre3', '1.0rc3'],
    ['1.0preview3', '1.0rc3'],
    ['1.0-RC_3', '1.0rc3'],
    ['1.0a', '1.0a0'],
    ['1.0a.1', '1.0a1'],
    // post-releases
    ['1.0.post1', '1.0.post1'],
    ['1.0post1', '1.0.post1'],
    ['1.0-post1', '1.0.post1'],
    ['1.0-1', '1.0.post1'],
    ['1.0.rev2', '1.0.post2'],
    ['1.0r2', '1.0.post2'],
    ['1.0.post', '1.0.post0'],
    ['1.0-POST_07', '1.0.post7'],
    // dev-releases
    ['1.0.dev1', '1.0.dev1'],
    ['1.0dev1', '1.0.dev1'],
    ['1.0-dev', '1.0.dev0'],
    ['1.0a1.dev2', '1.0a1.dev2'],
    ['1.0rc1.post2.dev3', '1.0rc1.post2.dev3'],
    ['1!2.0b1-3.DEV4', '1!2.0b1.post3.dev4'],
    // local versions: lowercase, separators become '.', numbers lose leading zeros
    ['1.0+abc', '1.0+abc'],
    ['1.0+ABC-Def_1', '1.0+abc.def.1'],
    ['1.0+ubuntu.007', '1.0+ubuntu.7'],
    ['1.0.post1+local.2', '1.0.post1+local.2'],
    // numbers beyond a double's precision stay exact
    ['1.99999999999999999999', '1.99999999999999999999'],
    ['20240101123456789012', '20240101123456789012'],
    ['1.0.post9007199254740993', '1.0.post9007199254740993'],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(normalizeVersion(input), expected);
    });
  }
});

describe('PEP 440 invalid versions', () => {
  const cases = [
    '',
    ' ',
    'abc',
    '1.0.',
    '.1.0',
    '1..0',
    '1.0-',
    '1.0+',
    '1.0+abc.',
    '1.0+abc..def',
    '1.0+a b',
    '1.0 beta',
    '1.0.gamma1',
    '1.0-dev-1-2',
    '1.0a1a2',
    '!1.0',
    'a!1.0',
    '1.0_',
    '1,0',
    '1.0\n2',
    '١.٠', // Arabic-Indic digits are not ASCII digits
    '1.0.dev1.post1', // post must come before dev
    '1.'.repeat(70) + '1', // longer than the bound on version text
  ];
  for (const input of cases) {
    test(`${JSON.stringify(input.length > 40 ? `${input.slice(0, 20)}…` : input)} is refused with version.invalid`, () => {
      assert.throws(() => parseVersion(input), (e: unknown) => isCairnError(e) && e.code === 'version.invalid');
    });
  }
});

describe('PEP 440 parse', () => {
  test('splits every component', () => {
    assert.deepEqual(parseVersion('2!1.2.3rc4.post5.dev6+ubuntu.7'), {
      epoch: 2n,
      release: [1n, 2n, 3n],
      pre: { label: 'rc', number: 4n },
      post: 5n,
      dev: 6n,
      local: ['ubuntu', 7n],
    });
  });
  test('absent components are null, epoch 0', () => {
    assert.deepEqual(parseVersion('3'), { epoch: 0n, release: [3n], pre: null, post: null, dev: null, local: null });
  });
});

describe('PEP 440 ordering', () => {
  // Each list is strictly increasing; every pair is checked both ways.
  const ascending: string[][] = [
    [
      '1.0.dev456',
      '1.0a1',
      '1.0a2.dev456',
      '1.0a12.dev456',
      '1.0a12',
      '1.0b1.dev456',
      '1.0b2',
      '1.0b2.post345.dev456',
      '1.0b2.post345',
      '1.0rc1.dev456',
      '1.0rc1',
      '1.0',
      '1.0+abc.5',
      '1.0+abc.7',
      '1.0+5',
      '1.0.post456.dev34',
      '1.0.post456',
      '1.0.15',
      '1.1.dev1',
    ],
    ['0.9', '1.0', '1.0.1', '1.1', '1.10', '2.0', '1!0.1', '1!1.0', '2!0.0.1'],
    ['1.0', '1.0.post0', '1.0.post1'],
    ['1.0+a', '1.0+a.1', '1.0+b', '1.0+1', '1.0+2', '1.0+10'],
    ['1.0.dev0', '1.0.dev9007199254740993', '1.0.dev9007199254740994', '1.0a0'],
    ['1.9007199254740992', '1.9007199254740993'],
    ['1.0rc1', '1.0'],
  ];
  for (const list of ascending) {
    test(list.join(' < '), () => {
      for (let i = 0; i < list.length; i++) {
        for (let j = 0; j < list.length; j++) {
          const expected = Math.sign(i - j);
          assert.equal(compareVersions(list[i]!, list[j]!), expected, `compare(${list[i]}, ${list[j]}) should be ${expected}`);
        }
      }
    });
  }

  const equal: [string, string][] = [
    ['1.0', '1.0.0'],
    ['1', '1.0.0.0'],
    ['1.0a1', '1.0.0-alpha.1'],
    ['1.0-1', '1.0.post1'],
    ['0!1.0', '1.0'],
    ['1.0+ABC', '1.0+abc'],
    ['1.0+a-1', '1.0+a.1'],
    ['v1.0.dev', '1.0.dev0'],
  ];
  for (const [a, b] of equal) {
    test(`${a} == ${b}`, () => {
      assert.equal(compareVersions(a, b), 0);
      assert.equal(compareVersions(b, a), 0);
    });
  }

  test('sorting a shuffled list gives the PEP order', () => {
    const shuffled = ['1.0.post1', '1.0a1', '1.0', '1.0.dev1', '1!0.1', '1.0rc1', '0.9', '1.0b1'];
    assert.deepEqual([...shuffled].sort(compareVersions), ['0.9', '1.0.dev1', '1.0a1', '1.0b1', '1.0rc1', '1.0', '1.0.post1', '1!0.1']);
  });
});

describe('PEP 440 pre-releases', () => {
  const cases: [string, boolean][] = [
    ['1.0', false],
    ['1.0a1', true],
    ['1.0b2', true],
    ['1.0rc1', true],
    ['1.0c1', true],
    ['1.0.dev1', true],
    ['1.0.post1.dev1', true],
    ['1.0.post1', false],
    ['1.0+dev', false], // a local label is not a dev release
    ['1!1.0', false],
    ['1!1.0a1', true],
  ];
  for (const [version, expected] of cases) {
    test(`${version} is ${expected ? '' : 'not '}a pre-release`, () => {
      assert.equal(isPrerelease(version), expected);
    });
  }
});
