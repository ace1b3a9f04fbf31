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

test("cairn's SCT check agrees with sigstore-js's on real leaves, valid and tampered", vectors, async () => {
  const { X509Certificate } = await import('@sigstore/core');
  const { sigstoreSctCheck } = await import('../../src/trust/sigstore-internals.ts');
  const { precertificateTbs, verifyEmbeddedScts } = await import('../../src/trust/sct.ts');
  const sigstoreVerifySCTs = sigstoreSctCheck();
  assert.ok(sigstoreVerifySCTs, '@sigstore/verify/dist/key/sct.js is present');
  const cases: [string, string][] = [
    ['pypi-attestations/pypi_attestations-0.0.19.tar.gz.publish.attestation', 'production'],
    ['pypi-attestations/pypi_attestations-0.0.19.tar.gz.slsa.attestation', 'production'],
    ['pypi-attestations/gitlab_oidc_project-0.0.3.tar.gz.publish.attestation', 'production'],
    ['pypi-attestations/rfc8785-0.1.2-py3-none-any.whl.publish.attestation', 'staging'],
  ];
  for (const [file, instance] of cases) {
    const attestation = JSON.parse(readFileSync(`${VECTORS_DIR}/${file}`, 'utf8')) as { verification_material: { certificate: string } };
    const der = Buffer.from(attestation.verification_material.certificate, 'base64');
    const leaf = X509Certificate.parse(der);
    const root = parseTrustedRoot(JSON.parse(readFileSync(`${VECTORS_DIR}/sigstore-python/trust/${instance}/trusted_root.json`, 'utf8')), instance);
    const trust = toTrustMaterial(TrustedRoot.fromJSON(root));
    const issuer = trust.certificateAuthorities.flatMap((ca) => ca.certChain).find((c) => c.subject.equals(leaf.issuer) && leaf.verify(c))!;
    assert.ok(issuer, `${file}: issuer found`);
    // The precertificate TBS is what sigstore-js's clone-and-re-encode gives.
    const clone = leaf.clone();
    clone.extensions.splice(clone.extensions.findIndex((e) => e.subs[0]!.toOID() === '1.3.6.1.4.1.11129.2.4.2'), 1);
    assert.deepEqual(precertificateTbs(der), clone.tbsCertificate.toDER(), file);
    const ours = verifyEmbeddedScts(leaf, der, issuer, trust.ctlogs).map((id) => id.toString('hex'));
    assert.deepEqual(ours, sigstoreVerifySCTs(leaf, issuer, trust.ctlogs).map((id) => id.toString('hex')), file);
    assert.ok(ours.length >= 1);
    // Against the other instance's CT logs neither accepts it.
    const other = toTrustMaterial(TrustedRoot.fromJSON(parseTrustedRoot(JSON.parse(readFileSync(`${VECTORS_DIR}/sigstore-python/trust/${instance === 'production' ? 'staging' : 'production'}/trusted_root.json`, 'utf8')))));
    assert.throws(() => verifyEmbeddedScts(leaf, der, issuer, other.ctlogs.map((log) => ({ ...log, logID: trust.ctlogs[0]!.logID }))), /SCT verification failed/);
    assert.throws(() => sigstoreVerifySCTs(leaf, issuer, other.ctlogs.map((log) => ({ ...log, logID: trust.ctlogs[0]!.logID }))), /SCT verification failed/);
  }
});
