import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  provenanceStates,
  type AttestationSignerSummary,
  type ProvenanceStateName,
  type ReleaseProvenanceInput,
} from '../../src/formats/provenance-state.ts';

const ISSUER = 'https://token.actions.githubusercontent.com';
const BUILDER_V1 = 'https://github.com/cairn-dev/builder/.github/workflows/build.yml@refs/tags/v1';
const BUILDER_V2 = 'https://github.com/cairn-dev/builder/.github/workflows/build.yml@refs/tags/v2';
const OTHER_BUILDER = 'https://github.com/someone-else/builder/.github/workflows/build.yml@refs/heads/main';

const build = (identity = BUILDER_V1): AttestationSignerSummary => ({ kind: 'build', issuer: ISSUER, identity, publisher: null });
const publish = (repository: string, tag: string, workflow = 'release.yml'): AttestationSignerSummary => ({
  kind: 'publish',
  issuer: ISSUER,
  // GitHub publish identities embed the release ref: it changes every release by design.
  identity: `https://github.com/${repository}/.github/workflows/${workflow}@refs/tags/${tag}`,
  publisher: { kind: 'GitHub', repository, workflow, environment: null, claims: null },
});

const release = (version: string, ...files: AttestationSignerSummary[][]): ReleaseProvenanceInput => ({ version, files });

interface Case {
  name: string;
  releases: ReleaseProvenanceInput[];
  /** Expected state of each release, oldest first. */
  expected: ProvenanceStateName[];
  /** A phrase the last release's explanation must contain. */
  explains?: RegExp;
}

const cases: Case[] = [
  { name: 'no attestations anywhere', releases: [release('1.0', []), release('1.1', [], [])], expected: ['none', 'none'], explains: /No file/ },
  { name: 'a release without files', releases: [release('1.0')], expected: ['none'], explains: /no files/ },
  { name: 'every file built', releases: [release('1.0', [build()], [build()])], expected: ['full'], explains: /all 2 files/i },
  { name: 'one of two files built', releases: [release('1.0', [build()], [])], expected: ['partial'], explains: /1 of 2 files/ },
  {
    name: 'two builders in one release',
    releases: [release('1.0', [build(BUILDER_V1)], [build(OTHER_BUILDER)])],
    expected: ['inconsistent'],
    explains: /2 different builders/,
  },
  {
    name: 'two publishers in one release',
    releases: [release('1.0', [publish('org/a', 'v1.0')], [publish('org/b', 'v1.0')])],
    expected: ['inconsistent'],
    explains: /2 different publishers/,
  },
  {
    name: 'provenance lost after earlier releases had it',
    releases: [release('1.0', [build()]), release('1.1', [], [])],
    expected: ['full', 'lost'],
    explains: /release 1\.0 did/,
  },
  {
    name: 'lost is reported against the last release that had provenance',
    releases: [release('1.0', [build()]), release('1.1', []), release('1.2', [])],
    expected: ['full', 'lost', 'lost'],
    explains: /release 1\.0 did/,
  },
  {
    name: 'builder changed from the previous release',
    releases: [release('1.0', [build(BUILDER_V1)]), release('1.1', [build(OTHER_BUILDER)])],
    expected: ['full', 'changed'],
    explains: /builder differs from release 1\.0/,
  },
  {
    name: 'a new builder version is a different builder',
    releases: [release('1.0', [build(BUILDER_V1)]), release('1.1', [build(BUILDER_V2)])],
    expected: ['full', 'changed'],
  },
  {
    name: 'publisher changed from the previous release',
    releases: [release('1.0', [publish('org/a', 'v1.0')]), release('1.1', [publish('org/fork', 'v1.1')])],
    expected: ['full', 'changed'],
    explains: /publisher differs/,
  },
  {
    name: 'the same publisher across releases is not a change, although the signing identity (tag) differs',
    releases: [release('1.0', [publish('org/a', 'v1.0')]), release('1.1', [publish('org/a', 'v1.1')])],
    expected: ['full', 'full'],
  },
  {
    name: 'build provenance dropped while publish attestations remain',
    releases: [release('1.0', [build(), publish('org/a', 'v1.0')]), release('1.1', [publish('org/a', 'v1.1')])],
    expected: ['full', 'changed'],
    explains: /had build provenance, this one has none/,
  },
  {
    name: 'a change is detected across a release without provenance',
    releases: [release('1.0', [build(BUILDER_V1)]), release('1.1', []), release('1.2', [build(OTHER_BUILDER)])],
    expected: ['full', 'lost', 'changed'],
    explains: /differs from release 1\.0/,
  },
  {
    name: 'first provenance after releases without any is not a change',
    releases: [release('0.9', []), release('1.0', [build()])],
    expected: ['none', 'full'],
  },
  {
    name: 'inconsistent wins over changed',
    releases: [release('1.0', [build(BUILDER_V1)]), release('1.1', [build(OTHER_BUILDER)], [build(BUILDER_V2)])],
    expected: ['full', 'inconsistent'],
  },
  {
    name: 'changed wins over partial, and the explanation says both',
    releases: [release('1.0', [build(BUILDER_V1)]), release('1.1', [build(OTHER_BUILDER)], [])],
    expected: ['full', 'changed'],
    explains: /builder differs.*1 of 2 files/,
  },
  {
    name: 'several attestations on one file by the same builder stay consistent',
    releases: [release('1.0', [build(), build()], [build()])],
    expected: ['full'],
  },
];

describe('provenance state per release', () => {
  for (const c of cases) {
    test(c.name, () => {
      const states = provenanceStates(c.releases);
      assert.deepEqual(
        states.map((s) => s.state),
        c.expected,
      );
      for (const s of states) assert.ok(s.explanation.length > 0 && /\.$/.test(s.explanation), s.explanation);
      if (c.explains) assert.match(states.at(-1)!.explanation, c.explains);
    });
  }

  test('every state is reachable', () => {
    const seen = new Set(cases.flatMap((c) => provenanceStates(c.releases).map((s) => s.state)));
    assert.deepEqual([...seen].sort(), ['changed', 'full', 'inconsistent', 'lost', 'none', 'partial']);
  });

  test('a long history: steady releases stay full, one switch of builder is flagged once', () => {
    // Wall-clock speed is measured by bench/ui-bench.ts; here, the result over 500 releases.
    const many = Array.from({ length: 500 }, (_, i) =>
      release(`1.${i}`, [build(i >= 300 ? OTHER_BUILDER : BUILDER_V1)], [build(i >= 300 ? OTHER_BUILDER : BUILDER_V1)], [publish('org/a', `v1.${i}`)]),
    );
    const states = provenanceStates(many).map((s) => s.state);
    assert.equal(states.length, 500);
    assert.equal(states[300], 'changed');
    assert.equal(states.filter((s) => s === 'full').length, 499);
  });
});
