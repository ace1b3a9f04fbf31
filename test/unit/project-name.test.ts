import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCairnError } from '../../src/errors.ts';
import { assertValidProjectName, isValidProjectName, normalizeProjectName } from '../../src/formats/project-name.ts';

// PEP 503 normalisation and the name rule of the core metadata specification (PEP 508).

describe('PEP 503 normalisation', () => {
  const cases: [string, string][] = [
    ['sampleproject', 'sampleproject'],
    ['SampleProject', 'sampleproject'],
    ['friendly-bard', 'friendly-bard'],
    ['Friendly-Bard', 'friendly-bard'],
    ['FRIENDLY-BARD', 'friendly-bard'],
    ['friendly.bard', 'friendly-bard'],
    ['friendly_bard', 'friendly-bard'],
    ['friendly--bard', 'friendly-bard'],
    ['FrIeNdLy-._.-bArD', 'friendly-bard'],
    ['zope.interface', 'zope-interface'],
    ['a', 'a'],
    ['A1_2', 'a1-2'],
  ];
  for (const [name, expected] of cases) {
    test(`${name} → ${expected}`, () => {
      assert.equal(normalizeProjectName(name), expected);
      assert.equal(normalizeProjectName(expected), expected, 'the normal form is a fixed point');
    });
  }
});

describe('valid project names', () => {
  const cases: [string, boolean][] = [
    ['sampleproject', true],
    ['a', true],
    ['Z9', true],
    ['9', true],
    ['zope.interface', true],
    ['my_package-2', true],
    ['a.b_c-d', true],
    ['x'.repeat(200), true],
    ['x'.repeat(201), false],
    ['', false],
    ['-leading', false],
    ['trailing-', false],
    ['.dot', false],
    ['dot.', false],
    ['_under', false],
    ['under_', false],
    ['has space', false],
    ['has/slash', false],
    ['has\\backslash', false],
    ['..', false],
    ['naïve', false],
    ['name\n', false],
    ['name+plus', false],
    ['name!', false],
  ];
  for (const [name, expected] of cases) {
    test(`${JSON.stringify(name.length > 30 ? `${name.slice(0, 10)}…(${name.length})` : name)} is ${expected ? 'valid' : 'invalid'}`, () => {
      assert.equal(isValidProjectName(name), expected);
      if (expected) assert.doesNotThrow(() => assertValidProjectName(name));
      else assert.throws(() => assertValidProjectName(name), (e: unknown) => isCairnError(e) && e.code === 'name.invalid');
    });
  }
});
