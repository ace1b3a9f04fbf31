import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PublicKeyDetails } from '@sigstore/protobuf-specs';
import { verifyDistribution } from '../../src/client/verify/index.ts';
import { hashedRekordV2Entry } from '../../src/devtrust/rekor-entries.ts';
import { DevTimestampAuthority } from '../../src/devtrust/timestamp-authority.ts';
import type { Pep740Attestation } from '../../src/formats/pep740.ts';
import { parsePolicy } from '../../src/policy/index.ts';
import { parseTrustedRoot, type TrustedRootJson } from '../../src/trust/trusted-roots.ts';
import { createAttestationVerifier } from '../../src/trust/verify-attestation.ts';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { DEFAULT_BUILDER_WORKFLOW, devTrustBase, signBuildProvenance, submitProvenance } from '../support/provenance.ts';
import { basicAuth, startTestServer, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * Provenance signed the Rekor v2 way through the dev trust domain: the DSSE envelope logged as a
 * `hashedrekord` 0.0.2 entry over its PAE (no signed entry timestamp, no integrated time), the
 * trusted time an RFC 3161 timestamp from the domain's TSA, carried in PEP 740 as
 * `verification_material.timestamps`. Submitted, bound, served byte for byte and verified by the
 * consumer; and each way such provenance can be wrong refused with its own code, nothing stored.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-rekor-v2-'));
after(() => rmSync(work, { recursive: true, force: true }));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Rekor v2 entries and RFC 3161 timestamps, end to end', () => {
  let server: TestServer;
  let auth: string;
  let root: TrustedRootJson;
  before(async () => {
    server = await startTestServer('sqlite', { devTrust: true });
    auth = basicAuth(await server.token('new_projects'));
    root = parseTrustedRoot(await (await fetch(`${devTrustBase(server)}/trusted_root.json`)).json(), 'dev trust');
  });
  after(async () => server?.stop());

  const rows = async () => {
    const count = async (table: 'pending_provenance' | 'attestations' | 'files') =>
      Number((await server.services.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    return { pending: await count('pending_provenance'), attestations: await count('attestations'), files: await count('files') };
  };

  async function signedV2(name: string) {
    const dist = makeDistribution(work, { name, version: '1.0', kind: 'wheel' });
    const digest = sha256(dist.bytes);
    const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: digest, rekorVersion: 2 });
    return { dist, digest, signed, attestation: structuredClone(signed.attestation) };
  }

  test('signed, submitted, bound, served with its timestamps and verified by the consumer', async () => {
    const { dist, digest, signed } = await signedV2('rekor-two');
    const entry = signed.bundle.verificationMaterial.tlogEntries[0]!;
    assert.deepEqual(entry.kindVersion, { kind: 'hashedrekord', version: '0.0.2' });
    assert.equal(entry.inclusionPromise, undefined, 'a Rekor v2 entry has no signed entry timestamp');
    assert.ok(!entry.integratedTime || entry.integratedTime === '0');
    assert.equal(signed.attestation.verification_material.timestamps?.length, 1);
    // The entry records the digest of the PAE, not of the payload.
    const body = JSON.parse(Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8')) as { spec: { hashedRekordV002: { data: { digest: string } } } };
    const payload = Buffer.from(signed.attestation.envelope.statement, 'base64');
    const pae = Buffer.concat([Buffer.from(`DSSEv1 28 application/vnd.in-toto+json ${payload.length} `), payload]);
    assert.equal(body.spec.hashedRekordV002.data.digest, createHash('sha256').update(pae).digest('base64'));

    const verifier = createAttestationVerifier([root]);
    const facts = verifier.verify(signed.attestation, { filename: dist.filename, sha256: digest }).facts;
    assert.deepEqual(verifier.checked, { fast: 1, plain: 0, managedKey: 0 });
    assert.ok(facts.certificateNotBefore <= facts.integratedTime && facts.integratedTime <= facts.certificateNotAfter, 'the trusted time is the TSA timestamp');

    const before = await rows();
    const submitted = await submitProvenance(server, { filename: dist.filename, sha256: digest, attestations: [signed.attestation] });
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    const uploaded = await uploadFile(server.url, dist.path, auth);
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    assert.deepEqual(await rows(), { pending: before.pending, attestations: before.attestations + 1, files: before.files + 1 });

    const integrity = await fetch(`${server.url}/integrity/rekor-two/1.0/${dist.filename}/provenance`);
    const provenance = (await integrity.json()) as { attestation_bundles: { attestations: Pep740Attestation[] }[] };
    const served = provenance.attestation_bundles[0]!.attestations[0]!;
    assert.deepEqual(served, signed.attestation);
    assert.deepEqual(served.verification_material.timestamps, signed.attestation.verification_material.timestamps);

    // The consumer: the library call and the CLI, against the index, with only the dev root.
    const policyText = `version = 1\n[defaults]\nrequire = "build"\n[[builders]]\nissuer = "${devTrustBase(server)}/oidc"\nidentity = "https://github.com/${DEFAULT_BUILDER_WORKFLOW}"\n`;
    const result = await verifyDistribution(
      { filename: dist.filename, path: dist.path, index: server.url },
      { policy: parsePolicy(policyText), trustedRoots: [root], publicGood: false, cacheDir: join(work, 'cache') },
    );
    assert.equal(result.status, 'pass', result.reason);
    const policyPath = join(work, 'policy.toml');
    writeFileSync(policyPath, policyText);
    const cli = await runCairn(['verify', dist.path, '--index', server.url, '--policy', policyPath, '--dev-trust', devTrustBase(server), '--cache-dir', join(work, 'cli-cache'), '--json']);
    assert.equal(cli.status, 0, cli.output);
  });

  /** Each bad attestation: refused by POST /_/provenance with `code`, and nothing stored. */
  async function refused(name: string, attestation: unknown, sha: string, filename: string, code: string) {
    const before = await rows();
    const answer = await submitProvenance(server, { filename, sha256: sha, attestations: [attestation] });
    assert.equal(answer.status, 400, `${name}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.code, code, `${name}: ${JSON.stringify(answer.body)}`);
    assert.deepEqual(await rows(), before, `${name}: nothing stored`);
  }

  test('an entry whose digest is over the payload instead of the PAE', async () => {
    const { dist, digest, attestation } = await signedV2('digest-over-payload');
    // A log that recorded the wrong digest (an honest one checks the signature over it and refuses).
    const certificate = Buffer.from(attestation.verification_material.certificate, 'base64');
    const wrong = hashedRekordV2Entry(createHash('sha256').update(Buffer.from(attestation.envelope.statement, 'base64')).digest(), Buffer.from(attestation.envelope.signature, 'base64'), {
      verifier: { $case: 'x509Certificate', x509Certificate: { rawBytes: certificate } },
      keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
    });
    attestation.verification_material.transparency_entries = [server.services.devTrust!.logV2.appendV2(wrong) as never];
    await refused('digest over payload', attestation, digest, dist.filename, 'provenance.tlog_digest_not_pae');
  });

  test('a timestamp from a TSA that is not in the trusted root', async () => {
    const { dist, digest, attestation } = await signedV2('foreign-tsa');
    const foreignKeys = await import('../../src/devtrust/keys.ts').then((m) => m.loadOrCreateDevTrustKeys(mkdtempSync(join(work, 'foreign-'))));
    const foreign = new DevTimestampAuthority(foreignKeys.tsa);
    const signature = Buffer.from(attestation.envelope.signature, 'base64');
    attestation.verification_material.timestamps = [foreign.timestampDigest(createHash('sha256').update(signature).digest()).toString('base64')];
    await refused('foreign TSA', attestation, digest, dist.filename, 'provenance.timestamp_untrusted');
  });

  test("a timestamp outside the certificate's validity", async () => {
    const { dist, digest, attestation } = await signedV2('late-timestamp');
    const notAfter = new Date(new X509Certificate(Buffer.from(attestation.verification_material.certificate, 'base64')).validTo);
    // The domain's own (trusted) TSA, its clock an hour past the 10-minute certificate.
    const late = new DevTimestampAuthority(server.services.devTrust!.keys.tsa, () => new Date(notAfter.getTime() + 3_600_000));
    const signature = Buffer.from(attestation.envelope.signature, 'base64');
    attestation.verification_material.timestamps = [late.timestampDigest(createHash('sha256').update(signature).digest()).toString('base64')];
    await refused('late timestamp', attestation, digest, dist.filename, 'provenance.timestamp_outside_validity');
  });

  test('a checkpoint from another log', async () => {
    const { dist, digest, attestation } = await signedV2('borrowed-checkpoint');
    // The domain's Rekor v1-style log is trusted too; its checkpoint is validly signed, by the wrong log.
    await signBuildProvenance(server, { filename: dist.filename, sha256: digest });
    const entry = attestation.verification_material.transparency_entries[0]!;
    entry.inclusionProof!.checkpoint = { envelope: server.services.devTrust!.log.info().signedTreeHead };
    await refused('checkpoint from the v1 log', attestation, digest, dist.filename, 'provenance.checkpoint_mismatch');
  });

  test('a timestamps member that is not base64, on submission and on upload', async () => {
    const { dist, digest, attestation } = await signedV2('bad-timestamps');
    (attestation.verification_material as { timestamps: unknown }).timestamps = ['not base64!'];
    await refused('timestamps not base64', attestation, digest, dist.filename, 'attestation.timestamp_malformed');
    (attestation.verification_material as { timestamps: unknown }).timestamps = 'MIIB';
    await refused('timestamps not a list', attestation, digest, dist.filename, 'attestation.timestamp_malformed');

    const before = await rows();
    const uploaded = await uploadFile(server.url, dist.path, auth, { attestations: [attestation] });
    assert.equal(uploaded.status, 400, JSON.stringify(uploaded.body));
    assert.deepEqual(await rows(), before, 'the upload stored nothing');
  });

  test('the dev log refuses what Rekor v2 refuses', async () => {
    const base = devTrustBase(server);
    const dsse = await fetch(`${base}/rekor-v2/api/v2/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dsseRequestV002: {} }) });
    assert.equal(dsse.status, 400);
    assert.match(((await dsse.json()) as { message: string }).message, /no DSSE entries/);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const request = {
      hashedRekordRequestV002: {
        digest: createHash('sha256').update('something').digest('base64'),
        signature: { content: Buffer.from('not a signature').toString('base64'), verifier: { publicKey: { rawBytes: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } },
      },
    };
    const forged = await fetch(`${base}/rekor-v2/api/v2/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    assert.equal(forged.status, 400);
    assert.equal(((await forged.json()) as { code: string }).code, 'provenance.signature_invalid');
  });
});
