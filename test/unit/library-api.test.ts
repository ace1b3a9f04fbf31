import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { skipUnless } from '../support/requirements.ts';
import { haveVectors, VECTORS_DIR } from '../support/vectors.ts';

/** The library API as another tool embeds it: imported by package name, as docs/library-api.md shows. */
const vectors = { skip: skipUnless(haveVectors('pypi-attestations/'), '../shared/vectors (real PEP 740 attestations)') };
const cacheDir = mkdtempSync(join(tmpdir(), 'cairn-lib-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

const SDIST = join(VECTORS_DIR, 'pypi-attestations', 'pypi_attestations-0.0.19.tar.gz');
const policyNaming = (repository: string) =>
  `version = 1\n[defaults]\nrequire = "publish"\n[[publishers]]\nissuer = "https://token.actions.githubusercontent.com"\nrepository = "${repository}"\nworkflow = "release.yml"\n`;

test('the package exports the documented entry points', async () => {
  const cairn = await import('cairn');
  for (const name of ['loadPolicy', 'parsePolicy', 'evaluatePolicy', 'explainPolicy', 'verifyDistribution', 'verifyTargets', 'parseTrustedRoot', 'CairnError', 'VerifyingProxy']) {
    assert.equal(typeof (cairn as Record<string, unknown>)[name], 'function', name);
  }
});

test('verifyDistribution + loadPolicy: a real attestation passes under its real publisher and fails under another', vectors, async () => {
  const { loadPolicy, verifyDistribution } = await import('cairn');
  const request = { filename: 'pypi_attestations-0.0.19.tar.gz', path: SDIST, attestationFiles: [`${SDIST}.publish.attestation`] };
  const trusted = await verifyDistribution(request, { policy: loadPolicy(policyNaming('trailofbits/pypi-attestations')), offline: true, cacheDir });
  assert.equal(trusted.status, 'pass', trusted.reason);
  assert.equal(trusted.verdict?.kind, 'publish');

  const other = await verifyDistribution(request, { policy: loadPolicy(policyNaming('someone/else')), offline: true, cacheDir });
  assert.equal(other.status, 'fail');
  assert.equal(other.code, 'policy.untrusted_publisher');
});

test('evaluatePolicy decides on facts alone, and a policy that trusts nobody fails closed', async () => {
  const { evaluatePolicy, parsePolicy, CairnError } = await import('cairn');
  const nobody = parsePolicy('version = 1\n[defaults]\nrequire = "build"\n', 'inline');
  const verdict = evaluatePolicy(nobody, { project: 'demo', version: '1.0', filename: 'demo-1.0.tar.gz', attestations: [] });
  assert.equal(verdict.pass, false);
  assert.equal(verdict.code, 'policy.trusts_nobody');
  assert.throws(() => parsePolicy('version = 1\nsurprise = true\n', 'inline'), (error) => error instanceof CairnError && error.code === 'policy.invalid');
});
