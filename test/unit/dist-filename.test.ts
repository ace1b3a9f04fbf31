import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isCairnError } from '../../src/errors.ts';
import {
  assertFilenameMatchesRelease,
  packageTypeOf,
  parseDistributionFilename,
  pythonTagOf,
  sameDistribution,
  type ParsedDistributionFilename,
} from '../../src/formats/dist-filename.ts';

// Names from the binary distribution format (wheel) and source distribution format specifications.

type Expected = Omit<ParsedDistributionFilename, 'filename'>;

describe('wheel filenames', () => {
  const cases: [string, Expected][] = [
    [
      'sampleproject-4.0.0-py3-none-any.whl',
      { kind: 'wheel', project: 'sampleproject', normalizedProject: 'sampleproject', version: '4.0.0', tags: { python: ['py3'], abi: ['none'], platform: ['any'] }, extension: '.whl' },
    ],
    [
      'My_Package-1.0-py2.py3-none-any.whl',
      { kind: 'wheel', project: 'My_Package', normalizedProject: 'my-package', version: '1.0', tags: { python: ['py2', 'py3'], abi: ['none'], platform: ['any'] }, extension: '.whl' },
    ],
    [
      'numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      {
        kind: 'wheel',
        project: 'numpy',
        normalizedProject: 'numpy',
        version: '2.1.0',
        tags: { python: ['cp312'], abi: ['cp312'], platform: ['manylinux_2_17_x86_64', 'manylinux2014_x86_64'] },
        extension: '.whl',
      },
    ],
    [
      'distribution-1.0-1-py27-none-any.whl',
      { kind: 'wheel', project: 'distribution', normalizedProject: 'distribution', version: '1.0', buildTag: '1', tags: { python: ['py27'], abi: ['none'], platform: ['any'] }, extension: '.whl' },
    ],
    [
      'pkg-2.0rc1-12abc-cp39-abi3-win_amd64.whl',
      { kind: 'wheel', project: 'pkg', normalizedProject: 'pkg', version: '2.0rc1', buildTag: '12abc', tags: { python: ['cp39'], abi: ['abi3'], platform: ['win_amd64'] }, extension: '.whl' },
    ],
    [
      'zope.interface-6.0+local.1-cp311-cp311-macosx_11_0_arm64.whl',
      {
        kind: 'wheel',
        project: 'zope.interface',
        normalizedProject: 'zope-interface',
        version: '6.0+local.1',
        tags: { python: ['cp311'], abi: ['cp311'], platform: ['macosx_11_0_arm64'] },
        extension: '.whl',
      },
    ],
    [
      'demo-1!1.0.post1.dev2-py3-none-any.whl',
      { kind: 'wheel', project: 'demo', normalizedProject: 'demo', version: '1!1.0.post1.dev2', tags: { python: ['py3'], abi: ['none'], platform: ['any'] }, extension: '.whl' },
    ],
  ];
  for (const [filename, expected] of cases) {
    test(filename, () => {
      assert.deepEqual(parseDistributionFilename(filename), { filename, ...expected });
    });
  }
});

describe('sdist filenames', () => {
  const cases: [string, Expected][] = [
    ['sampleproject-4.0.0.tar.gz', { kind: 'sdist', project: 'sampleproject', normalizedProject: 'sampleproject', version: '4.0.0', extension: '.tar.gz' }],
    ['my_package-1.0rc1.tar.gz', { kind: 'sdist', project: 'my_package', normalizedProject: 'my-package', version: '1.0rc1', extension: '.tar.gz' }],
    // legacy names keep their dashes: the version is what follows the last '-'
    ['my-package-2.0.tar.gz', { kind: 'sdist', project: 'my-package', normalizedProject: 'my-package', version: '2.0', extension: '.tar.gz' }],
    ['Django-1.11.zip', { kind: 'sdist', project: 'Django', normalizedProject: 'django', version: '1.11', extension: '.zip' }],
    ['zope.interface-6.0.tar.gz', { kind: 'sdist', project: 'zope.interface', normalizedProject: 'zope-interface', version: '6.0', extension: '.tar.gz' }],
    ['pkg-1!2.0+local.tar.gz', { kind: 'sdist', project: 'pkg', normalizedProject: 'pkg', version: '1!2.0+local', extension: '.tar.gz' }],
  ];
  for (const [filename, expected] of cases) {
    test(filename, () => {
      assert.deepEqual(parseDistributionFilename(filename), { filename, ...expected });
    });
  }
});

describe('invalid distribution filenames', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['x'.repeat(252) + '.whl', /longer than 255/],
    // path separators and traversal
    ['../evil-1.0.tar.gz', /path separators/],
    ['dir/pkg-1.0.tar.gz', /path separators/],
    ['dir\\pkg-1.0.tar.gz', /path separators/],
    ['/etc/pkg-1.0.tar.gz', /path separators/],
    ['..', /leading '\.'|'\.\.'/],
    ['.hidden-1.0.tar.gz', /leading '\.'/],
    ['pkg-1.0..tar.gz', /'\.\.'/],
    ['pkg-1.0.tar.gz\u0000.whl', /control characters/],
    ['pkg-1.0\n.tar.gz', /control characters/],
    ['pkg 1.0.tar.gz', /only ASCII/],
    ['pkg-1.0.tar.gz;rm', /only ASCII/],
    ['pkgé-1.0.tar.gz', /only ASCII/],
    // not a distribution
    ['pkg-1.0.exe', /wheels \(\.whl\) or sdists/],
    ['pkg-1.0.tar.bz2', /wheels \(\.whl\) or sdists/],
    ['pkg-1.0.egg', /wheels \(\.whl\) or sdists/],
    ['pkg-1.0.WHL', /wheels \(\.whl\) or sdists/],
    // sdist shape
    ['pkg.tar.gz', /an sdist is named/],
    ['-1.0.tar.gz', /an sdist is named/],
    ['pkg-.tar.gz', /not a PEP 440 version/],
    ['pkg-one.tar.gz', /not a PEP 440 version/],
    ['_pkg-1.0.tar.gz', /not a valid project name/],
    ['pkg_-1.0.tar.gz', /not a valid project name/],
    // wheel shape
    ['pkg-1.0.whl', /a wheel is named/],
    ['pkg-1.0-py3-none.whl', /a wheel is named/],
    ['pkg-1.0-1-2-py3-none-any.whl', /a wheel is named/],
    ['pkg-one-py3-none-any.whl', /not a PEP 440 version/],
    ['pkg--py3-none-any.whl', /not a PEP 440 version/],
    ['_pkg-1.0-py3-none-any.whl', /not a valid project name/],
    ['pkg-1.0-beta-py3-none-any.whl', /build tag 'beta' must start with a digit/],
    ['pkg-1.0-py3--any.whl', /not a valid compatibility tag/],
    ['pkg-1.0-py3.-none-any.whl', /not a valid compatibility tag/],
    ['pkg-1.0-.py3-none-any.whl', /not a valid compatibility tag/],
    ['pkg-1.0-py3-none-any+x.whl', /not a valid compatibility tag/],
  ];
  for (const [filename, reason] of cases) {
    test(`${JSON.stringify(filename.length > 60 ? `${filename.slice(0, 20)}…` : filename)} is refused (${reason.source})`, () => {
      assert.throws(
        () => parseDistributionFilename(filename),
        (e: unknown) => isCairnError(e) && e.code === 'filename.invalid' && reason.test(e.message),
      );
    });
  }
});

describe('sameDistribution', () => {
  const same = (a: string, b: string) => sameDistribution(parseDistributionFilename(a), parseDistributionFilename(b));
  const cases: [string, string, boolean][] = [
    ['pkg-1.0-py3-none-any.whl', 'pkg-1.0-py3-none-any.whl', true],
    // compressed tag sets compare as sets: order and case do not matter
    ['pkg-1.0-py2.py3-none-any.whl', 'pkg-1.0-py3.py2-none-any.whl', true],
    ['pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', 'pkg-1.0-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl', true],
    ['pkg-1.0-py3-none-ANY.whl', 'pkg-1.0-py3-none-any.whl', true],
    ['pkg-1.0-py2.py3-none-any.whl', 'pkg-1.0-py3-none-any.whl', false],
    // the name and version compare normalised
    ['My.Package-1.0-py3-none-any.whl', 'my_package-1.0-py3-none-any.whl', true],
    ['pkg-1.0-py3-none-any.whl', 'pkg-1.0.0-py3-none-any.whl', false],
    ['pkg-1.0a1-py3-none-any.whl', 'pkg-1.0alpha1-py3-none-any.whl', true],
    ['pkg-1.0.tar.gz', 'PKG-1.0.tar.gz', true],
    ['pkg-1.0-1.tar.gz', 'pkg-1.0.post1.tar.gz', false], // '1.0-1' parses as project 'pkg-1.0', version '1'
    ['pkg-1.0.tar.gz', 'pkg-1.0.post1.tar.gz', false],
    ['pkg-1.0.tar.gz', 'pkg-2.0.tar.gz', false],
    ['pkg-1.0.tar.gz', 'other-1.0.tar.gz', false],
    // build tags must agree
    ['pkg-1.0-1-py3-none-any.whl', 'pkg-1.0-py3-none-any.whl', false],
    ['pkg-1.0-1-py3-none-any.whl', 'pkg-1.0-1-py3-none-any.whl', true],
    ['pkg-1.0-1-py3-none-any.whl', 'pkg-1.0-2-py3-none-any.whl', false],
    // kinds and extensions must agree
    ['pkg-1.0.tar.gz', 'pkg-1.0.zip', false],
    ['pkg-1.0.tar.gz', 'pkg-1.0-py3-none-any.whl', false],
    ['pkg-1.0-py3-none-any.whl', 'pkg-1.0-py3-abi3-any.whl', false],
    ['pkg-1.0-py3-none-any.whl', 'pkg-1.0-cp3-none-any.whl', false],
  ];
  for (const [a, b, expected] of cases) {
    test(`${a} ${expected ? '≡' : '≠'} ${b}`, () => {
      assert.equal(same(a, b), expected);
      assert.equal(same(b, a), expected, 'symmetric');
    });
  }
});

describe('derived fields', () => {
  const cases: [string, 'bdist_wheel' | 'sdist', string][] = [
    ['pkg-1.0-py2.py3-none-any.whl', 'bdist_wheel', 'py2.py3'],
    ['pkg-1.0-cp312-cp312-win_amd64.whl', 'bdist_wheel', 'cp312'],
    ['pkg-1.0.tar.gz', 'sdist', 'source'],
  ];
  for (const [filename, packagetype, pythonVersion] of cases) {
    test(`${filename}: ${packagetype}, python_version ${pythonVersion}`, () => {
      const parsed = parseDistributionFilename(filename);
      assert.equal(packageTypeOf(parsed), packagetype);
      assert.equal(pythonTagOf(parsed), pythonVersion);
    });
  }
});

describe('assertFilenameMatchesRelease', () => {
  const cases: [string, string, string, boolean][] = [
    ['my_package-1.0-py3-none-any.whl', 'My.Package', '1.0', true],
    ['my_package-1.0-py3-none-any.whl', 'my-package', '1.0.0', false],
    ['my_package-1.0rc1.tar.gz', 'my-package', '1.0-RC1', true],
    ['my_package-1.0.tar.gz', 'other', '1.0', false],
    ['my_package-1.0.tar.gz', 'my-package', '1.1', false],
  ];
  for (const [filename, name, version, ok] of cases) {
    test(`${filename} ${ok ? 'belongs' : 'does not belong'} to ${name} ${version}`, () => {
      const parsed = parseDistributionFilename(filename);
      if (ok) assert.doesNotThrow(() => assertFilenameMatchesRelease(parsed, name, version));
      else assert.throws(() => assertFilenameMatchesRelease(parsed, name, version), (e: unknown) => isCairnError(e) && e.code === 'upload.filename_mismatch');
    });
  }
});
