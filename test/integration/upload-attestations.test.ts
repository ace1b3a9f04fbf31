import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleToAttestation } from '../../src/formats/pep740.ts';
import { publishStatement } from '../../src/client/publish/publish-distributions.ts';
import { runCairn } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { DEFAULT_COMMIT, devToken, devTrustBase, signBuildProvenance, signWithDevTrust, signWithForeignDevTrust, unusuallyFormatted } from '../support/provenance.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * PEP 740 at upload (issue 3): the `attestations` field as twine 5+ sends it. Publish attestations
 * must come from the trusted publisher that authorised the upload; build provenance from anyone.
 * One bad attestation refuses the whole upload and nothing is stored.
 */
const REPOSITORY = 'octo-org/attested';
const WORKFLOW_REF = `${REPOSITORY}/.github/workflows/release.yml@refs/heads/main`;
const work = mkdtempSync(join(tmpdir(), 'cairn-pep740-'));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
after(() => rmSync(work, { recursive: true, force: true }));

async function counts(server: TestServer) {
  const n = async (table: 'files' | 'attestations' | 'releases') =>
    Number((await server.services.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { files: await n('files'), attestations: await n('attestations'), releases: await n('releases') };
}

for (const { engine, skip } of await testEngines()) {
  describe(`PEP 740 attestations at upload (${engine})`, { skip }, () => {
    let server: TestServer;
    let version = 0;
    before(async () => {
      server = await startTestServer(engine, { devTrust: true });
      await server.services.publishers.add({ project: 'attested', issuer: `${devTrustBase(server)}/oidc`, repository: REPOSITORY, workflow: 'release.yml' }, new Date());
    });
    after(async () => server?.stop());

    /** A trusted-publishing upload token, as `cairn publish` or pypa/gh-action-pypi-publish gets one. */
    async function publisherAuth(): Promise<string> {
      const response = await fetch(`${server.url}/_/oidc/mint-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'cairn' }) }),
      });
      assert.equal(response.status, 200, await response.clone().text());
      return basicAuth(((await response.json()) as { token: string }).token);
    }
    const nextDist = () => makeDistribution(work, { name: 'attested', version: `1.${version++}`, kind: 'wheel' });
    const signPublish = async (filename: string, digest: string, claims = { repository: REPOSITORY, workflow_ref: WORKFLOW_REF }) =>
      bundleToAttestation(await signWithDevTrust(server, publishStatement(filename, digest), await devToken(server, claims)));

    test('a publish attestation from the trusted publisher and a build provenance are stored and served', async () => {
      const dist = nextDist();
      const publish = await signPublish(dist.filename, sha256(dist.bytes));
      const build = (await signBuildProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes), claims: { repository: REPOSITORY } })).attestation;
      const answer = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [publish, build] });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const provenance = (await (await fetch(`${server.url}/integrity/attested/${dist.filename.split('-')[1]}/${dist.filename}/provenance`)).json()) as {
        attestation_bundles: { publisher: { kind: string; repository: string }; attestations: unknown[] }[];
      };
      const all = provenance.attestation_bundles.flatMap((b) => b.attestations);
      assert.equal(all.length, 2);
      assert.ok(provenance.attestation_bundles.some((b) => b.publisher.repository === REPOSITORY));
      const json = (await (await fetch(`${server.url}/pypi/attested/json`)).json()) as { urls: { filename: string; provenance?: string | null }[] };
      assert.ok(json.urls.every((u) => typeof u.provenance === 'string'), JSON.stringify(json.urls));
    });

    test('the attestations field keeps each attestation byte for byte as sent (DESIGN §4)', async () => {
      const dist = nextDist();
      const build = (await signBuildProvenance(server, { filename: dist.filename, sha256: sha256(dist.bytes), claims: { repository: REPOSITORY } })).attestation;
      const sent = unusuallyFormatted(build);
      const apiToken = basicAuth(await server.token('projects', ['attested']));
      const answer = await uploadFile(server.url, dist.path, apiToken, { attestationsField: ` [\r\n ${sent} ]\n` });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const stored = await server.services.db
        .selectFrom('attestations')
        .innerJoin('files', 'files.id', 'attestations.file_id')
        .select('attestations.raw_json')
        .where('files.filename', '=', dist.filename)
        .executeTakeFirstOrThrow();
      assert.equal(stored.raw_json, sent);
      const served = await (await fetch(`${server.url}/integrity/attested/${dist.filename.split('-')[1]}/${dist.filename}/provenance`)).text();
      assert.ok(served.includes(`"attestations":[${sent}]`), served);
    });

    describe('refused uploads store nothing', () => {
      async function refused(attestations: unknown[] | string, code: string, options: { auth?: string } = {}) {
        const dist = nextDist();
        const before = await counts(server);
        const answer = await uploadFile(server.url, dist.path, options.auth ?? (await publisherAuth()), typeof attestations === 'string' ? { attestationsField: attestations } : { attestations });
        assert.equal(answer.status >= 400, true, JSON.stringify(answer.body));
        assert.equal(answer.body.code, code, JSON.stringify(answer.body));
        assert.deepEqual(await counts(server), before);
        return { dist, answer };
      }

      test('subject name or digest of another file', async () => {
        const other = nextDist();
        await refused([await signPublish(other.filename, sha256(other.bytes))], 'provenance.subject_mismatch');
        const dist = nextDist();
        const before = await counts(server);
        const answer = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [await signPublish(dist.filename, 'e'.repeat(64))] });
        assert.equal(answer.body.code, 'provenance.digest_mismatch');
        assert.deepEqual(await counts(server), before);
      });

      test('a tampered statement', async () => {
        const dist = nextDist();
        const attestation = structuredClone(await signPublish(dist.filename, sha256(dist.bytes))) as { envelope: { statement: string } };
        const statement = JSON.parse(Buffer.from(attestation.envelope.statement, 'base64').toString()) as Record<string, unknown>;
        statement.predicate = { injected: true };
        attestation.envelope.statement = Buffer.from(JSON.stringify(statement)).toString('base64');
        const before = await counts(server);
        const answer = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [attestation] });
        assert.equal(answer.body.code, 'provenance.signature_invalid', JSON.stringify(answer.body));
        assert.deepEqual(await counts(server), before);
      });

      test('a publish attestation signed by another workflow than the trusted publisher', async () => {
        const dist = nextDist();
        const before = await counts(server);
        const attestation = await signPublish(dist.filename, sha256(dist.bytes), { repository: REPOSITORY, workflow_ref: `${REPOSITORY}/.github/workflows/other.yml@refs/heads/main` });
        const answer = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [attestation] });
        assert.equal(answer.body.code, 'attestation.publisher_mismatch');
        assert.match(answer.body.message ?? '', /other\.yml/);
        assert.deepEqual(await counts(server), before);
      });

      test('a publish attestation on an upload authorised by a plain API token', async () => {
        const dist = nextDist();
        const before = await counts(server);
        const apiToken = basicAuth(await server.token('projects', ['attested']));
        const answer = await uploadFile(server.url, dist.path, apiToken, { attestations: [await signPublish(dist.filename, sha256(dist.bytes))] });
        assert.equal(answer.body.code, 'attestation.publisher_mismatch');
        assert.deepEqual(await counts(server), before);
      });

      test('a certificate from a CA the index does not trust', async () => {
        const dist = nextDist();
        const bundle = await signWithForeignDevTrust(publishStatement(dist.filename, sha256(dist.bytes)), { repository: REPOSITORY, workflow_ref: WORKFLOW_REF });
        const before = await counts(server);
        const answer = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [bundleToAttestation(bundle)] });
        assert.equal(answer.body.code, 'provenance.untrusted_root', JSON.stringify(answer.body));
        assert.deepEqual(await counts(server), before);
      });

      test('no transparency-log entry', async () => {
        const dist = nextDist();
        const attestation = structuredClone(await signPublish(dist.filename, sha256(dist.bytes))) as { verification_material: { transparency_entries: unknown[] } };
        attestation.verification_material.transparency_entries = [];
        const before = await counts(server);
        const answer = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [attestation] });
        assert.equal(answer.body.code, 'provenance.tlog_missing', JSON.stringify(answer.body));
        assert.deepEqual(await counts(server), before);
      });

      test('an unknown predicate type', async () => {
        const dist = nextDist();
        const statement = { ...publishStatement(dist.filename, sha256(dist.bytes)), predicateType: 'https://example.invalid/custom/v1' };
        const attestation = bundleToAttestation(await signWithDevTrust(server, statement, await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF })));
        const before = await counts(server);
        const answer = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [attestation] });
        assert.equal(answer.body.code, 'attestation.unknown_predicate');
        assert.deepEqual(await counts(server), before);
      });

      test('the same attestation twice, malformed JSON, oversized field', async () => {
        const dist = nextDist();
        const attestation = await signPublish(dist.filename, sha256(dist.bytes));
        const before = await counts(server);
        const twice = await uploadFile(server.url, dist.path, await publisherAuth(), { attestations: [attestation, attestation] });
        assert.equal(twice.body.code, 'attestation.duplicate');
        await refused('[{"version": 1,', 'attestation.malformed');
        await refused('{"not": "an array"}', 'attestation.malformed');
        await refused(JSON.stringify([{ padding: 'x'.repeat(600 * 1024) }]), 'attestation.too_large');
        assert.deepEqual((await counts(server)).files, before.files);
      });
    });

    test('cairn publish finds the ambient GitHub Actions credential (token request URL) for the exchange and for signing', async () => {
      const dist = nextDist();
      const query = new URLSearchParams({ repository: REPOSITORY, workflow_ref: WORKFLOW_REF, sha: DEFAULT_COMMIT });
      const env = {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${devTrustBase(server)}/oidc/token?${query}`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
      };
      const result = await runCairn(['publish', '--index', server.url, '--attest', '--dev-trust', devTrustBase(server), dist.path], { env });
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /GitHub Actions/);
      const stored = await server.services.db.selectFrom('attestations').innerJoin('files', 'files.id', 'attestations.file_id').select('attestations.kind').where('files.filename', '=', dist.filename).execute();
      assert.deepEqual(stored.map((r) => r.kind), ['publish']);
    });

    test('cairn publish reads GitLab id_tokens variables; without any credential it is a usage error', async () => {
      const dist = nextDist();
      const env = {
        CAIRN_ID_TOKEN: await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'cairn' }),
        SIGSTORE_ID_TOKEN: await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF }),
      };
      const result = await runCairn(['publish', '--index', server.url, '--attest', '--dev-trust', devTrustBase(server), dist.path], { env });
      assert.equal(result.status, 0, result.output);
      assert.match(result.output, /GitLab variable CAIRN_ID_TOKEN/);

      const bare = await runCairn(['publish', '--index', server.url, nextDist().path], {
        env: { ACTIONS_ID_TOKEN_REQUEST_URL: undefined, ACTIONS_ID_TOKEN_REQUEST_TOKEN: undefined, CAIRN_ID_TOKEN: undefined, SIGSTORE_ID_TOKEN: undefined, PYPI_ID_TOKEN: undefined, CAIRN_TOKEN: undefined },
      });
      assert.equal(bare.status, 2, bare.output);
      assert.match(bare.stderr, /no OIDC credential found/);
    });

    test('cairn publish refuses what it cannot publish, with a precise code, and the index stores nothing', async () => {
      const dist = nextDist();
      const before = await counts(server);
      const cases: [string[], Record<string, string | undefined>, number, RegExp][] = [
        [[join(work, 'missing-1.0-py3-none-any.whl')], {}, 2, /usage\.invalid_argument.*no such file/],
        [[join(work, 'notes.txt')], {}, 2, /filename\.invalid/],
        [['--token', 'cairn-not-a-token', dist.path], {}, 2, /auth\.invalid_token/],
      ];
      for (const [args, env, exit, message] of cases) {
        const result = await runCairn(['publish', '--index', server.url, ...args], { env });
        assert.equal(result.status, exit, result.output);
        assert.match(result.stderr, message);
      }
      const stranger = join(work, 'stranger.jwt');
      writeFileSync(stranger, await devToken(server, { repository: 'mallory/attested', workflow_ref: 'mallory/attested/.github/workflows/release.yml@refs/heads/main', aud: 'cairn' }));
      const exchange = await runCairn(['publish', '--index', server.url, '--oidc-token-file', stranger, dist.path]);
      assert.equal(exchange.status, 2, exchange.output);
      assert.match(exchange.stderr, /oidc\.no_matching_publisher/);
      assert.deepEqual(await counts(server), before);
    });

    test('cairn publish --attest signs and uploads a publish attestation the index accepts', async () => {
      const dist = nextDist();
      const exchange = join(work, 'exchange.jwt');
      const signing = join(work, 'signing.jwt');
      writeFileSync(exchange, await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'cairn' }));
      writeFileSync(signing, await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF }));
      const result = await runCairn(['publish', '--index', server.url, '--oidc-token-file', exchange, '--signing-token-file', signing, '--attest', '--dev-trust', devTrustBase(server), dist.path]);
      assert.equal(result.status, 0, result.output);
      const stored = await server.services.db.selectFrom('attestations').innerJoin('files', 'files.id', 'attestations.file_id').select(['attestations.kind', 'attestations.publisher_json']).where('files.filename', '=', dist.filename).execute();
      assert.equal(stored.length, 1);
      assert.equal(stored[0]!.kind, 'publish');
      assert.match(stored[0]!.publisher_json ?? '', /octo-org\/attested/);
    });

    test('cairn publish checks both tokens\' audiences before spending either, and says which audience each needs', async () => {
      const dist = nextDist();
      const exchange = join(work, 'only-exchange.jwt');
      const signing = join(work, 'only-signing.jwt');
      writeFileSync(exchange, await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'cairn' }));
      writeFileSync(signing, await devToken(server, { repository: REPOSITORY, workflow_ref: WORKFLOW_REF, aud: 'sigstore' }));
      const before = await counts(server);
      const common = ['publish', '--index', server.url, '--attest', '--dev-trust', devTrustBase(server)];

      // One token for both: the exchange would have spent it, then signing would have failed.
      const single = await runCairn([...common, '--oidc-token-file', exchange, dist.path]);
      assert.equal(single.status, 2, single.output);
      assert.match(single.stderr, /error \[oidc\.bad_audience\]: the OIDC token from file \S+only-exchange\.jwt has audience 'cairn', but signing the publish attestations \(--attest\) needs audience 'sigstore'\. Pass a second token minted for audience 'sigstore' with --signing-token-file FILE; --oidc-token-file keeps the exchange token \(audience 'cairn'\)\. Nothing was sent: the token is unspent\./);
      assert.doesNotMatch(single.stdout, /exchanging/);
      // The signing token given for the exchange: refused before anything is sent, too.
      const swapped = await runCairn([...common, '--oidc-token-file', signing, '--signing-token-file', signing, dist.path]);
      assert.equal(swapped.status, 2, swapped.output);
      assert.match(swapped.stderr, /error \[oidc\.bad_audience\]: .*has audience 'sigstore', but the trusted-publishing exchange needs audience 'cairn'/);
      assert.deepEqual(await counts(server), before, 'nothing was uploaded');

      // The exchange token was not spent: with a signing token beside it, the same file works.
      const both = await runCairn([...common, '--oidc-token-file', exchange, '--signing-token-file', signing, dist.path]);
      assert.equal(both.status, 0, both.output);
      // Exchanged once, it is spent: the retry says to mint a new one, and for which audience.
      const again = await runCairn(['publish', '--index', server.url, '--oidc-token-file', exchange, nextDist().path]);
      assert.equal(again.status, 2, again.output);
      assert.match(again.stderr, /error \[oidc\.replayed\]: .*already exchanged; a token is exchanged once: mint a new one .*; the new token needs audience 'cairn'/);
    });
  });
}
