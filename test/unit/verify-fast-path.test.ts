import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { attestationToBundle, parseAttestation } from '../../src/formats/pep740.ts';
import { FAST_PATH_VERIFY_VERSIONS, fastPathStatus } from '../../src/trust/sigstore-internals.ts';
import { parseTrustedRoot } from '../../src/trust/trusted-roots.ts';
import { createAttestationVerifier } from '../../src/trust/verify-attestation.ts';
import { skipUnless } from '../support/requirements.ts';
import { haveVectors, VECTORS_DIR } from '../support/vectors.ts';

/**
 * The verified-chain fast path (3-4x plain @sigstore/verify) reaches into sigstore-js internals
 * (src/trust/sigstore-internals.ts). With a sigstore-js it was not written for it turns itself off
 * and verification stays correct but slow; these tests make that loud instead of silent.
 */
const vectors = { skip: skipUnless(haveVectors('pypi-attestations/'), '../shared/vectors (real PEP 740 attestations)') };
const require = createRequire(import.meta.url);

test('the installed @sigstore/verify is the one the fast path was written for, pinned exactly', () => {
  const installed = (require('@sigstore/verify/package.json') as { version: string }).version;
  const pinned = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies['@sigstore/verify'];
  assert.equal(pinned, installed, 'package.json pins @sigstore/verify to an exact version');
  assert.ok(FAST_PATH_VERIFY_VERSIONS.includes(installed), `@sigstore/verify ${installed} is not in FAST_PATH_VERIFY_VERSIONS (${FAST_PATH_VERIFY_VERSIONS.join(', ')}): review sigstore-internals.ts`);
  const status = fastPathStatus();
  assert.equal(status.enabled, true, status.reason);
  assert.equal(status.version, installed);
});

test('real keyless attestations go through the fast path, never the plain fallback, and agree with plain sigstore-js', vectors, () => {
  const file = `${VECTORS_DIR}/pypi-attestations/pypi_attestations-0.0.19.tar.gz.publish.attestation`;
  const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const root = parseTrustedRoot(JSON.parse(readFileSync(`${VECTORS_DIR}/sigstore-python/trust/production/trusted_root.json`, 'utf8')), 'production');
  const sha256 = createHash('sha256').update(readFileSync(`${VECTORS_DIR}/pypi-attestations/pypi_attestations-0.0.19.tar.gz`)).digest('hex');
  const verifier = createAttestationVerifier([root]);
  for (let i = 0; i < 5; i++) verifier.verify(json, { filename: 'pypi_attestations-0.0.19.tar.gz', sha256 });
  assert.deepEqual(verifier.checked, { fast: 5, plain: 0, managedKey: 0 });
  // The same bundle through sigstore-js's own Verifier.verify passes too.
  const plain = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(root)));
  plain.verify(toSignedEntity(bundleFromJSON(attestationToBundle(parseAttestation(json)))));
});

test('verifiers are shared by equal roots, so verifyDistribution per file keeps the fast path warm', async () => {
  const { verifierFor } = await import('../../src/trust/verify-attestation.ts');
  const { publicGoodTrustedRoot } = await import('../../src/trust/trusted-roots.ts');
  const a = verifierFor({ publicGood: true });
  assert.equal(verifierFor({ publicGood: true, extra: [] }), a);
  assert.equal(verifierFor({ publicGood: false, extra: [publicGoodTrustedRoot()] }), a, 'the same roots, however given');
  assert.notEqual(verifierFor({ publicGood: false, extra: [{ ...publicGoodTrustedRoot(), timestampAuthorities: [] }] }), a);
  assert.notEqual(verifierFor({ publicGood: true }, { publicKeys: () => ({ publicKey: null as never, validFor: () => true }) }), a, 'managed keys are never shared');
});
