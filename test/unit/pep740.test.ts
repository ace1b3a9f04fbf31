import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { isCairnError } from '../../src/errors.ts';
import { attestationToBundle, bundleToAttestation, isSigstoreBundle, parseAttestation, type Pep740Attestation } from '../../src/formats/pep740.ts';
import { skipUnless } from '../support/requirements.ts';
import { haveVectors, VECTORS_URL } from '../support/vectors.ts';

const VECTORS = VECTORS_URL;
const vectorsPresent = haveVectors('pypi-attestations/');
const vectors = { skip: skipUnless(vectorsPresent, '../shared/vectors (real PEP 740 attestations and Sigstore bundles)') };

const readJson = (path: string): unknown => JSON.parse(readFileSync(new URL(path, VECTORS), 'utf8'));

/** Every PEP 740 attestation object in the vectors: loose files and those inside provenance objects. */
function vectorAttestations(): { name: string; json: unknown }[] {
  const out: { name: string; json: unknown }[] = [];
  for (const dir of ['pypi-attestations/', 'pip-plugin-pep740/']) {
    for (const file of readdirSync(new URL(dir, VECTORS))) {
      if (file.endsWith('.attestation')) out.push({ name: dir + file, json: readJson(dir + file) });
      if (file.endsWith('.provenance')) {
        const provenance = readJson(dir + file) as { attestation_bundles: { attestations: unknown[] }[] };
        provenance.attestation_bundles.forEach((b, i) => b.attestations.forEach((a, j) => out.push({ name: `${dir}${file}[${i}][${j}]`, json: a })));
      }
    }
  }
  return out;
}

/**
 * Protobuf-level equality: protobuf-JSON leaves out defaults (`keyid: ''`). An empty
 * `timestampVerificationData` (no RFC 3161 timestamps) carries nothing and PEP 740 has no field
 * for it, so it is compared as absent.
 */
function canonicalBundle(json: unknown) {
  const bundle = bundleToJSON(bundleFromJSON(json));
  const tsa = bundle.verificationMaterial.timestampVerificationData;
  if (tsa && (tsa.rfc3161Timestamps ?? []).length === 0) {
    bundle.verificationMaterial.timestampVerificationData = undefined;
  }
  return JSON.parse(JSON.stringify(bundle)) as unknown;
}

function assertCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isCairnError(error), `expected a CairnError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('PEP 740 attestation objects', () => {
  test('every real attestation parses and survives attestation → bundle → attestation unchanged', vectors, () => {
    const all = vectorAttestations();
    assert.ok(all.length >= 10, `expected the vector attestations, found ${all.length}`);
    for (const { name, json } of all) {
      const attestation = parseAttestation(json);
      assert.deepEqual(attestation, json, `${name}: parse keeps every field`);
      const bundle = attestationToBundle(attestation);
      assert.ok(isSigstoreBundle(bundle), name);
      assert.ok(!isSigstoreBundle(attestation), name);
      // sigstore-js accepts the converted bundle as a v0.3 bundle.
      assert.doesNotThrow(() => bundleFromJSON(bundle), name);
      assert.deepEqual(bundleToAttestation(bundle), json, `${name}: round trip`);
    }
  });

  test('the bundle for an attestation has the Sigstore v0.3 DSSE shape', vectors, () => {
    const json = readJson('pypi-attestations/pypi_attestations-0.0.19.tar.gz.publish.attestation') as Pep740Attestation;
    const bundle = attestationToBundle(parseAttestation(json));
    assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(bundle.verificationMaterial.certificate?.rawBytes, json.verification_material.certificate);
    assert.deepEqual(bundle.verificationMaterial.tlogEntries, json.verification_material.transparency_entries);
    assert.deepEqual(bundle.dsseEnvelope, {
      payload: json.envelope.statement,
      payloadType: 'application/vnd.in-toto+json',
      signatures: [{ sig: json.envelope.signature, keyid: '' }],
    });
    // The bundle is a copy: changing it leaves the attestation alone.
    bundle.verificationMaterial.tlogEntries[0]!.logIndex = '0';
    assert.notEqual(json.verification_material.transparency_entries[0]!.logIndex, '0');
  });

  test('real bundles convert to the attestation published next to them and back, losslessly', vectors, () => {
    for (const base of ['pypi-attestations/pypi_attestation_models-0.0.4a2.tar.gz', 'pypi-attestations/rfc8785-0.1.2-py3-none-any.whl']) {
      const bundle = readJson(`${base}.sigstore`);
      assert.ok(isSigstoreBundle(bundle));
      const attestation = bundleToAttestation(bundle);
      assert.deepEqual(attestation, readJson(`${base}.attestation`), base);
      assert.deepEqual(canonicalBundle(attestationToBundle(attestation)), canonicalBundle(bundle), `${base}: bundle → attestation → bundle`);
    }
  });

  test('a bundle with a certificate chain contributes its leaf', vectors, () => {
    const path = 'slsa-verifier/gha_delegator/v2.1.0/binary-linux-amd64-push-v14.build.slsa';
    const bundle = readJson(path) as { verificationMaterial: { x509CertificateChain: { certificates: { rawBytes: string }[] } } };
    const attestation = bundleToAttestation(bundle);
    assert.equal(attestation.verification_material.certificate, bundle.verificationMaterial.x509CertificateChain.certificates[0]!.rawBytes);
  });

  test('message-signature and public-key bundles are not attestations', vectors, () => {
    assertCode(() => bundleToAttestation(readJson('sigstore-python/bundles/bundle_v3_github.whl.sigstore')), 'attestation.malformed', /message signature/);
    assertCode(() => bundleToAttestation(readJson('sigstore-conformance/bundle-verify/managed-key-happy-path/bundle.sigstore.json')), 'attestation.malformed', /public-key/);
  });

  describe('malformed objects are refused with a precise message', () => {
    const good: Pep740Attestation = {
      version: 1,
      verification_material: { certificate: 'MIIB', transparency_entries: [{ logIndex: '1', canonicalizedBody: 'e30=' } as never] },
      envelope: { statement: 'e30=', signature: 'MEUC' },
    };
    const cases: [string, unknown, RegExp][] = [
      ['not an object', [], /the attestation must be a JSON object/],
      ['null', null, /the attestation must be a JSON object/],
      ['version 2', { ...good, version: 2 }, /version must be 1, got 2/],
      ['no version', { ...good, version: undefined }, /version must be 1, got null/],
      ['no verification material', { ...good, verification_material: undefined }, /verification_material must be a JSON object/],
      ['certificate not base64', { ...good, verification_material: { ...good.verification_material, certificate: 'not base64!' } }, /certificate is not valid/],
      ['empty certificate', { ...good, verification_material: { ...good.verification_material, certificate: '' } }, /certificate must be a non-empty base64 string/],
      ['entries not a list', { ...good, verification_material: { ...good.verification_material, transparency_entries: {} } }, /transparency_entries must be an array/],
      ['entry without body', { ...good, verification_material: { ...good.verification_material, transparency_entries: [{ logIndex: '1' }] } }, /transparency_entries\[0\]\.canonicalizedBody/],
      ['no envelope', { ...good, envelope: undefined }, /envelope must be a JSON object/],
      ['statement missing', { ...good, envelope: { signature: 'MEUC' } }, /envelope\.statement must be a non-empty base64 string/],
      ['signature url-safe base64', { ...good, envelope: { ...good.envelope, signature: 'ab-_' } }, /envelope\.signature is not valid/],
    ];
    for (const [name, json, message] of cases) {
      test(name, () => assertCode(() => parseAttestation(json), 'attestation.malformed', message));
    }
    test('the well-formed baseline parses', () => assert.deepEqual(parseAttestation(good), good));
  });

  test('isSigstoreBundle tells the two forms apart', () => {
    assert.equal(isSigstoreBundle({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: {} }), true);
    assert.equal(isSigstoreBundle({ mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2', verificationMaterial: {} }), true);
    assert.equal(isSigstoreBundle({ version: 1, verification_material: {}, envelope: {} }), false);
    assert.equal(isSigstoreBundle('{}'), false);
    assert.equal(isSigstoreBundle(null), false);
  });
});
