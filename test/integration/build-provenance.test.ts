import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleToAttestation } from '../../src/formats/pep740.ts';
import { buildProvenanceStatement } from '../../src/formats/slsa-provenance.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { DEFAULT_COMMIT, devToken, signBuildProvenance, signWithDevTrust, signWithForeignDevTrust, submitProvenance, unusuallyFormatted } from '../support/provenance.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * DESIGN §1 step 3–4 over HTTP: a builder's provenance is verified, kept pending, and bound by the
 * upload of the file with that name and digest; every malformed or forged submission is refused
 * with its code and leaves no row behind.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-prov-'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
after(() => rmSync(work, { recursive: true, force: true }));

async function rows(server: TestServer) {
  const count = async (table: 'pending_provenance' | 'attestations') =>
    Number((await server.services.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { pending: await count('pending_provenance'), attestations: await count('attestations') };
}

for (const { engine, skip } of await testEngines()) {
  describe(`build provenance pre-submission and binding (${engine})`, { skip }, () => {
    let server: TestServer;
    let auth: string;
    before(async () => {
      server = await startTestServer(engine, { devTrust: true, pendingMaxPerSigner: 3 });
      auth = basicAuth(await server.token('new_projects'));
    });
    after(async () => server?.stop());

    test('submitted provenance is pending, then bound by the upload and served by the integrity API', async () => {
      const dist = makeDistribution(work, { name: 'bound-pkg', version: '1.0', kind: 'wheel' });
      const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes) });
      const submitted = await submitProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes), attestations: [signed.attestation] });
      assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
      assert.equal(submitted.body.status, 'pending');
      assert.deepEqual(await rows(server), { pending: 1, attestations: 0 });

      // The same statement again: idempotent, still one row.
      const again = await submitProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes), attestations: [signed.attestation] });
      assert.equal(again.status, 200);
      assert.deepEqual(await rows(server), { pending: 1, attestations: 0 });

      const uploaded = await uploadFile(server.url, dist.path, auth);
      assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
      assert.deepEqual(await rows(server), { pending: 0, attestations: 1 });

      const integrity = await fetch(`${server.url}/integrity/bound-pkg/1.0/${dist.filename}/provenance`);
      assert.equal(integrity.status, 200);
      assert.match(integrity.headers.get('content-type') ?? '', /^application\/vnd\.pypi\.integrity\.v1\+json/);
      const provenance = (await integrity.json()) as { version: number; attestation_bundles: { attestations: unknown[]; cairn_verified: Record<string, unknown>[] }[] };
      assert.equal(provenance.version, 1);
      const verified = provenance.attestation_bundles[0]!.cairn_verified[0]!;
      assert.equal(verified.source_repository_uri ?? verified.sourceRepositoryUri, 'https://github.com/octo-org/octo-repo');
      assert.deepEqual(provenance.attestation_bundles[0]!.attestations[0], signed.attestation);

      const simple = await fetch(`${server.url}/simple/bound-pkg/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
      const files = ((await simple.json()) as { files: { filename: string; provenance?: string | null }[] }).files;
      assert.match(files[0]!.provenance ?? '', /\/integrity\/bound-pkg\/1\.0\/.+\/provenance$/);
      const html = await (await fetch(`${server.url}/simple/bound-pkg/`, { headers: { Accept: 'text/html' } })).text();
      assert.match(html, /data-provenance="[^"]+\/provenance"/);
    });

    test('an attestation is stored and served byte for byte as the builder sent it (DESIGN §4)', async () => {
      const dist = makeDistribution(work, { name: 'exact-bytes', version: '1.0', kind: 'wheel' });
      const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes) });
      const sent = unusuallyFormatted(signed.attestation);
      assert.deepEqual(JSON.parse(sent), { ...signed.attestation, note: 'caf\u00e9 \u2603 ] } [ { "quoted" \\' });
      const body = `{ "sha256":"${sha256(dist.bytes)}",\n  "attestations" : [\n${sent}\n  ] ,"filename":"${dist.filename}"}`;
      const response = await fetch(`${server.url}/_/provenance`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body });
      assert.equal(response.status, 200, await response.text());
      const pending = await server.services.db.selectFrom('pending_provenance').select('raw_json').where('filename', '=', dist.filename).executeTakeFirstOrThrow();
      assert.equal(pending.raw_json, sent);

      assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
      const stored = await server.services.db
        .selectFrom('attestations')
        .innerJoin('files', 'files.id', 'attestations.file_id')
        .select('attestations.raw_json')
        .where('files.filename', '=', dist.filename)
        .executeTakeFirstOrThrow();
      assert.equal(stored.raw_json, sent);

      const served = await (await fetch(`${server.url}/integrity/exact-bytes/1.0/${dist.filename}/provenance`)).text();
      assert.ok(served.includes(`"attestations":[${sent}]`), served);
      const provenance = JSON.parse(served) as { attestation_bundles: { attestations: unknown[] }[] };
      assert.deepEqual(provenance.attestation_bundles[0]!.attestations, [JSON.parse(sent)]);
    });

    test('submissions may be up to 2 MiB (above the 1 MiB of other JSON routes)', async () => {
      const post = (padding: number) =>
        fetch(`${server.url}/_/provenance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"filename":"x-1.0.tar.gz","sha256":"no","attestations":[]}${' '.repeat(padding)}` });
      const read = await post(1.5 * 1024 * 1024);
      assert.equal(read.status, 400);
      assert.equal(((await read.json()) as { code: string }).code, 'provenance.malformed');
      const tooLarge = await post(2.5 * 1024 * 1024);
      assert.equal(tooLarge.status, 413);
      assert.equal(((await tooLarge.json()) as { code: string }).code, 'request.too_large');
    });

    test('a body that is not UTF-8 is refused and stores nothing', async () => {
      const before = await rows(server);
      const body = Buffer.concat([Buffer.from('{"filename":"x-1.0.tar.gz","note":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
      const response = await fetch(`${server.url}/_/provenance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { code: string }).code, 'provenance.malformed');
      assert.deepEqual(await rows(server), before);
    });

    test('a submission for a file already on the index is bound at once and flagged as a rebuild', async () => {
      const dist = makeDistribution(work, { name: 'rebuilt-pkg', version: '2.0', kind: 'sdist' });
      assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
      const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes) });
      const submitted = await submitProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes), attestations: [signed.attestation] });
      assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
      assert.equal(submitted.body.status, 'bound');
      assert.equal(submitted.body.submitted_before_upload, false);
      const stored = await server.services.db.selectFrom('attestations').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
      assert.equal(stored.submitted_before_upload, 0);
    });

    test('an upload after the pending entry expired is accepted and binds nothing', async () => {
      const dist = makeDistribution(work, { name: 'late-pkg', version: '1.0', kind: 'wheel' });
      const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes) });
      assert.equal((await submitProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes), attestations: [signed.attestation] })).status, 200);
      // Age the entry past its expiry, as 24 hours would.
      await server.services.db.updateTable('pending_provenance').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('filename', '=', dist.filename).execute();
      const before = await rows(server);
      assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
      assert.equal((await rows(server)).attestations, before.attestations);
      assert.equal((await fetch(`${server.url}/integrity/late-pkg/1.0/${dist.filename}/provenance`)).status, 404);
      assert.equal(await server.services.pendingProvenance.sweepExpired(), 0, 'the upload already cleared the entry for its file');
    });

    describe('refusals leave nothing behind', () => {
      const dist = makeDistribution(work, { name: 'refused-pkg', version: '1.0', kind: 'wheel' });
      const digest = sha256(dist.bytes);

      async function refused(submission: { filename: string; sha256: string; attestations: unknown[] }, code: string, message?: RegExp) {
        const before = await rows(server);
        const answer = await submitProvenance(server, submission);
        assert.equal(answer.body.code, code, JSON.stringify(answer.body));
        assert.ok(answer.status >= 400 && answer.status < 500);
        if (message) assert.match(String(answer.body.message), message);
        assert.deepEqual(await rows(server), before);
      }

      test('subject filename differs from the submitted filename', async () => {
        const signed = await signBuildProvenance(server, { filename: 'refused_pkg-1.1-py3-none-any.whl', sha256: digest });
        await refused({ filename: dist.filename, sha256: digest, attestations: [signed.attestation] }, 'provenance.subject_mismatch');
      });

      test('digest differs', async () => {
        const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: 'c'.repeat(64) });
        await refused({ filename: dist.filename, sha256: digest, attestations: [signed.attestation] }, 'provenance.digest_mismatch');
      });

      test('predicate type is not SLSA provenance v1', async () => {
        const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: dist.filename, digest: { sha256: digest } }], predicateType: 'https://docs.pypi.org/attestations/publish/v1', predicate: null };
        const bundle = await signWithDevTrust(server, statement, await devToken(server));
        await refused({ filename: dist.filename, sha256: digest, attestations: [bundleToAttestation(bundle)] }, 'provenance.predicate_unsupported');
      });

      test('source.commit missing or not hex', async () => {
        for (const commit of [undefined, 'main', 'g'.repeat(40)]) {
          const statement = buildProvenanceStatement({
            filename: dist.filename, sha256: digest, source: { repository: 'https://github.com/octo-org/octo-repo', commit: DEFAULT_COMMIT }, tools: [], builderId: 'b', invocationId: 'i', startedOn: new Date(), finishedOn: new Date(),
          });
          const source = ((statement.predicate as Record<string, Record<string, Record<string, Record<string, unknown>>>>).buildDefinition!.externalParameters!.source!);
          if (commit === undefined) delete source.commit;
          else source.commit = commit;
          const bundle = await signWithDevTrust(server, statement, await devToken(server));
          await refused({ filename: dist.filename, sha256: digest, attestations: [bundleToAttestation(bundle)] }, 'provenance.malformed', /source\.commit/);
        }
      });

      test('statement repository or commit differs from what the certificate vouches for', async () => {
        const otherRepo = await signBuildProvenance(server, { filename: dist.filename, sha256: digest, statementRepository: 'https://github.com/evil/fork' });
        await refused({ filename: dist.filename, sha256: digest, attestations: [otherRepo.attestation] }, 'provenance.source_mismatch', /evil\/fork/);
        const otherCommit = await signBuildProvenance(server, { filename: dist.filename, sha256: digest, statementCommit: 'b'.repeat(40) });
        await refused({ filename: dist.filename, sha256: digest, attestations: [otherCommit.attestation] }, 'provenance.source_mismatch', /bbbb/);
      });

      test('tampered statement', async () => {
        const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: digest });
        const tampered = structuredClone(signed.attestation) as { envelope: { statement: string } };
        const statement = JSON.parse(Buffer.from(tampered.envelope.statement, 'base64').toString()) as Record<string, unknown>;
        statement.predicate = { ...(statement.predicate as object), tampered: true };
        tampered.envelope.statement = Buffer.from(JSON.stringify(statement)).toString('base64');
        await refused({ filename: dist.filename, sha256: digest, attestations: [tampered] }, 'provenance.signature_invalid');
      });

      test('signed under a root the index does not trust', async () => {
        const statement = buildProvenanceStatement({
          filename: dist.filename, sha256: digest, source: { repository: 'https://github.com/octo-org/octo-repo', commit: DEFAULT_COMMIT }, tools: [], builderId: 'b', invocationId: 'i', startedOn: new Date(), finishedOn: new Date(),
        });
        const bundle = await signWithForeignDevTrust(statement);
        await refused({ filename: dist.filename, sha256: digest, attestations: [bundleToAttestation(bundle)] }, 'provenance.untrusted_root');
      });

      test('malformed bodies', async () => {
        await refused({ filename: dist.filename, sha256: 'xyz', attestations: [{}] }, 'provenance.malformed', /sha256/);
        await refused({ filename: dist.filename, sha256: digest, attestations: [] }, 'provenance.malformed', /non-empty/);
        await refused({ filename: '../etc/passwd', sha256: digest, attestations: [{}] }, 'filename.invalid');
        await refused({ filename: dist.filename, sha256: digest, attestations: [{ version: 1 }] }, 'attestation.malformed');
      });

      test('past the per-signer cap the index answers 429 with a clear message', async () => {
        const identity = { job_workflow_ref: 'capped/builder/.github/workflows/b.yml@refs/heads/main' };
        for (let i = 0; i < 3; i++) {
          const d = makeDistribution(work, { name: 'capped-pkg', version: `1.${i}`, kind: 'wheel' });
          const s = await signBuildProvenance(server, { filename: d.filename, sha256: sha256(d.bytes), claims: identity });
          assert.equal((await submitProvenance(server, { filename: d.filename, sha256: sha256(d.bytes), attestations: [s.attestation] })).status, 200);
        }
        const d = makeDistribution(work, { name: 'capped-pkg', version: '1.9', kind: 'wheel' });
        const s = await signBuildProvenance(server, { filename: d.filename, sha256: sha256(d.bytes), claims: identity });
        const before = await rows(server);
        const answer = await submitProvenance(server, { filename: d.filename, sha256: sha256(d.bytes), attestations: [s.attestation] });
        assert.equal(answer.status, 429);
        assert.equal(answer.body.code, 'provenance.rate_limited');
        assert.match(String(answer.body.message), /already has 3 pending submissions/);
        assert.deepEqual(await rows(server), before);
      });
    });
  });
}
