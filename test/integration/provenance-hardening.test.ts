import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadExtraRoots, VerifyCache, verifyTargets } from '../../src/client/verify/index.ts';
import { parsePolicy } from '../../src/policy/index.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { runCairn } from '../support/commands.ts';
import { DEFAULT_BUILDER_WORKFLOW, devToken, devTrustBase, signBuildProvenance, submitProvenance, type DevTokenClaims } from '../support/provenance.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * Issue 11, as an attacker tries it: one signing identity tries to block a project's build
 * provenance (pending caps), to change what the index says about someone else's published files
 * (third-party attestations), to pass as the real builder (a forged `runDetails.builder.id`), to
 * learn other projects' publishers from the exchange's refusals, to take a name a pending
 * publisher waits for or one that reads like another project's, and to reorder pages with bidi
 * controls. Each over HTTP or the CLI, on SQLite and PostgreSQL.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-harden-'));
after(() => rmSync(work, { recursive: true, force: true }));
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A stranger: a CI run in their own repository, with a builder workflow of their own. */
const MALLORY: DevTokenClaims = {
  repository: 'mallory/junk',
  workflow_ref: 'mallory/junk/.github/workflows/j.yml@refs/heads/main',
  job_workflow_ref: 'mallory/junk/.github/workflows/j.yml@refs/heads/main',
};
const EVE: DevTokenClaims = {
  repository: 'eve/rebuild',
  workflow_ref: 'eve/rebuild/.github/workflows/r.yml@refs/heads/main',
  job_workflow_ref: 'eve/rebuild/.github/workflows/r.yml@refs/heads/main',
};
const REAL_BUILDER_ID = `https://github.com/${DEFAULT_BUILDER_WORKFLOW}`;
/** Distinct statements from one identity: each signed for another commit. */
const commit = (i: number) => sha256(`commit ${i}`).slice(0, 40);

interface ProvenanceObject {
  attestation_bundles: { cairn_verified: { identity: string; first_party: boolean }[] }[];
  cairn_third_party?: { attestation_bundles: { cairn_verified: { identity: string; first_party: boolean }[] }[] };
}

for (const { engine, skip } of await testEngines()) {
  describe(`provenance strangers cannot block or bend (${engine})`, { skip }, () => {
    let server: TestServer;
    let auth: string;
    before(async () => {
      server = await startTestServer(engine, { devTrust: true });
      auth = basicAuth(await server.token('new_projects'));
    });
    after(async () => server?.stop());

    const count = async (table: 'pending_provenance' | 'attestations' | 'projects' | 'files') =>
      Number((await server.services.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const state = async () => ({ pending: await count('pending_provenance'), attestations: await count('attestations'), projects: await count('projects'), files: await count('files') });
    const submit = async (filename: string, digest: string, claims?: DevTokenClaims, extra: { builderId?: string } = {}) => {
      const signed = await signBuildProvenance(server, { filename, sha256: digest, ...(claims ? { claims } : {}), ...extra });
      return submitProvenance(server, { filename, sha256: digest, attestations: [signed.attestation] });
    };
    const integrity = async (project: string, version: string, filename: string) => {
      const response = await fetch(`${server.url}/integrity/${project}/${version}/${filename}/provenance`);
      assert.equal(response.status, 200);
      return (await response.json()) as ProvenanceObject;
    };
    const identities = (bundles: ProvenanceObject['attestation_bundles'] | undefined) => (bundles ?? []).flatMap((b) => b.cairn_verified.map((v) => v.identity));
    const admin = (...args: string[]) => runCairn(['admin', ...args, '--data-dir', server.dataDir, '--database-url', server.config.databaseUrl]);

    describe('pending build provenance (item 3)', () => {
      test("17 junk submissions from one identity for the next release's filename do not block the real builder", async () => {
        const dist = makeDistribution(work, { name: 'blocked-pkg', version: '2.0', kind: 'wheel' });
        for (let i = 0; i < 17; i++) {
          const junk = await submit(dist.filename, sha256(`junk ${i}`), MALLORY);
          assert.equal(junk.status, 200, `junk ${i}: ${JSON.stringify(junk.body)}`);
        }
        const real = await submit(dist.filename, sha256(dist.bytes));
        assert.equal(real.status, 200, JSON.stringify(real.body));
        assert.equal(real.body.status, 'pending');
        const uploaded = await uploadFile(server.url, dist.path, auth);
        assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
        const provenance = await integrity('blocked-pkg', '2.0', dist.filename);
        assert.deepEqual(identities(provenance.attestation_bundles), [REAL_BUILDER_ID], 'the real builder bound at upload, and none of the junk');
        assert.equal(provenance.cairn_third_party, undefined);
      });

      test('one signer holds at most 4 pending places for one file; other signers still get theirs', async () => {
        const dist = makeDistribution(work, { name: 'crowded-pkg', version: '1.0', kind: 'wheel' });
        const digest = sha256(dist.bytes);
        for (let i = 0; i < 4; i++) assert.equal((await submit(dist.filename, digest, { ...MALLORY, sha: commit(i) })).status, 200);
        const before = await state();
        const refused = await submit(dist.filename, digest, { ...MALLORY, sha: commit(4) });
        assert.equal(refused.status, 429);
        assert.equal(refused.body.code, 'provenance.rate_limited');
        assert.match(String(refused.body.message), /already has 4 pending submissions for crowded_pkg-1\.0-py3-none-any\.whl/);
        assert.deepEqual(await state(), before, 'a refusal stores nothing');
        assert.equal((await submit(dist.filename, digest)).status, 200, 'the real builder still has room');
      });

      test('cairn admin provenance purge removes by id, filename and signer, and refuses to purge without a selector', async () => {
        const a = makeDistribution(work, { name: 'purge-pkg', version: '1.0', kind: 'wheel' });
        const b = makeDistribution(work, { name: 'purge-pkg', version: '1.0', kind: 'sdist' });
        for (let i = 0; i < 3; i++) assert.equal((await submit(a.filename, sha256(`a ${i}`), MALLORY)).status, 200);
        assert.equal((await submit(b.filename, sha256('b 0'), MALLORY)).status, 200);
        assert.equal((await submit(b.filename, sha256('b 1'), EVE)).status, 200);
        const mine = (await server.services.pendingProvenance.listPending()).filter((r) => r.filename.startsWith('purge'));
        assert.equal(mine.length, 5);
        const malloryIdentity = mine[0]!.signer_identity;

        const before = await count('pending_provenance');
        for (const args of [[], ['--id', 'x1'], ['--id', '0']]) {
          const refused = await admin('provenance', 'purge', ...args);
          assert.equal(refused.status, 2, refused.output);
          assert.match(refused.stderr, /error \[usage\.invalid_argument\]/);
        }
        assert.equal(await count('pending_provenance'), before, 'nothing removed by a refused purge');

        const byId = await admin('provenance', 'purge', '--id', String(mine[1]!.id));
        assert.equal(byId.status, 0, byId.output);
        assert.match(byId.stdout, /^removed 1 pending build provenance entry$/m);
        assert.match(byId.stdout, new RegExp(`^${mine[1]!.id}  ${a.filename}  sha256:${mine[1]!.sha256}`, 'm'));

        const byFilename = await admin('provenance', 'purge', '--filename', b.filename, '--json');
        assert.equal(byFilename.status, 0, byFilename.output);
        const removed = JSON.parse(byFilename.stdout) as { filename: string; signer_identity: string }[];
        assert.deepEqual(removed.map((r) => r.filename), [b.filename, b.filename]);

        const bySigner = await admin('provenance', 'purge', '--signer', malloryIdentity);
        assert.equal(bySigner.status, 0, bySigner.output);
        const left = (await server.services.pendingProvenance.listPending()).filter((r) => r.filename.startsWith('purge'));
        assert.deepEqual(left, []);
        assert.equal((await server.services.pendingProvenance.listPending()).some((r) => r.signer_identity === malloryIdentity), false, 'all of the signer’s entries went');
        assert.match(bySigner.stdout, /^removed \d+ pending build provenance entries$/m);
      });
    });

    describe('third-party attestations (item 4)', () => {
      test("a stranger's attestation on a published file changes neither badge, feed, simple page nor integrity bundles, and is listed apart", async () => {
        const dist = makeDistribution(work, { name: 'thirdp-pkg', version: '1.0', kind: 'wheel' });
        assert.equal((await submit(dist.filename, sha256(dist.bytes))).status, 200);
        assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
        const read = async () => ({
          json: ((await (await fetch(`${server.url}/pypi/thirdp-pkg/json`)).json()) as { info: { provenance_state: unknown } }).info.provenance_state,
          feed: (await (await fetch(`${server.url}/rss/project/thirdp-pkg/releases.xml`)).text()).replace(/<lastBuildDate>[^<]*<\/lastBuildDate>/, ''),
          simple: await (await fetch(`${server.url}/simple/thirdp-pkg/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).text(),
        });
        const beforeStranger = await read();
        assert.equal((beforeStranger.json as { state: string }).state, 'full');

        // The stranger claims the real builder's id in the statement: nothing shown may say so.
        const stranger = await submit(dist.filename, sha256(dist.bytes), MALLORY, { builderId: REAL_BUILDER_ID });
        assert.equal(stranger.status, 200, JSON.stringify(stranger.body));
        assert.equal(stranger.body.status, 'bound');
        assert.equal(stranger.body.first_party, false);
        const row = await server.services.db.selectFrom('attestations').select(['first_party', 'signer_identity']).orderBy('id', 'desc').executeTakeFirstOrThrow();
        assert.equal(row.first_party, 0);

        assert.deepEqual(await read(), beforeStranger, 'state, feed and simple page are unchanged');
        const provenance = await integrity('thirdp-pkg', '1.0', dist.filename);
        assert.deepEqual(identities(provenance.attestation_bundles), [REAL_BUILDER_ID]);
        assert.deepEqual(identities(provenance.cairn_third_party?.attestation_bundles), [row.signer_identity]);
        assert.equal(provenance.cairn_third_party?.attestation_bundles[0]?.cairn_verified[0]?.first_party, false);

        const jsonApi = (await (await fetch(`${server.url}/pypi/thirdp-pkg/json`)).json()) as { urls: { cairn_third_party_attestations?: { identity: string }[] }[] };
        assert.deepEqual(jsonApi.urls[0]!.cairn_third_party_attestations?.map((a) => a.identity), [row.signer_identity], 'the JSON API lists the stranger apart');
        const page = await (await fetch(`${server.url}/project/thirdp-pkg/1.0/`)).text();
        assert.match(page, /class="badge badge-full"/);
        const builtBy = [...page.matchAll(/<span class="prov-line prov-build[^"]*">([^<]*)<\/span>/g)].map((m) => m[1]);
        assert.deepEqual(builtBy, ['Built by cairn-dev/builder/.github/workflows/cairn-build.yml@refs/tags/v1 from octo-org/octo-repo@aaaaaaa (submitted before upload)']);
        assert.match(page, /<span class="prov-line prov-third-party" data-third-party="1">Also attested by mallory\/junk\/.github\/workflows\/j.yml@refs\/heads\/main \(third party, after upload\)<\/span>/);
        assert.match(page, /<h4>Also attested by third parties<\/h4>/);
      });

      test('an attestation on an old release does not make the next one "lost"', async () => {
        const old = makeDistribution(work, { name: 'lostp-pkg', version: '1.0', kind: 'wheel' });
        assert.equal((await uploadFile(server.url, old.path, auth)).status, 200);
        assert.equal((await submit(old.filename, sha256(old.bytes), MALLORY)).status, 200);
        const next = makeDistribution(work, { name: 'lostp-pkg', version: '2.0', kind: 'wheel' });
        assert.equal((await uploadFile(server.url, next.path, auth)).status, 200);
        for (const version of ['1.0', '2.0']) {
          const json = (await (await fetch(`${server.url}/pypi/lostp-pkg/${version}/json`)).json()) as { info: { provenance_state: { state: string } } };
          assert.equal(json.info.provenance_state.state, 'none', version);
        }
        // No provenance link in the simple API either: the file has no provenance of its own.
        const simple = (await (await fetch(`${server.url}/simple/lostp-pkg/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files: { provenance?: string | null }[] };
        assert.ok(simple.files.every((f) => !f.provenance));
      });

      test('identity-continuity = "fail" is not broken by a stranger attesting the new release', async () => {
        for (const version of ['1.0', '2.0']) {
          const dist = makeDistribution(work, { name: 'contp-pkg', version, kind: 'sdist' });
          assert.equal((await submit(dist.filename, sha256(dist.bytes))).status, 200);
          assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
          if (version === '2.0') assert.equal((await submit(dist.filename, sha256(dist.bytes), MALLORY)).status, 200);
        }
        const base = devTrustBase(server);
        const cacheDir = join(work, `verify-${engine}`);
        const roots = await loadExtraRoots([`${base}/trusted_root.json`], { cache: new VerifyCache(join(cacheDir, 'roots')), offline: false });
        const policy = parsePolicy(
          `version = 1\n[defaults]\nrequire = "build"\nidentity-continuity = "fail"\n[[builders]]\nissuer = "${base}/oidc"\nidentity = "${REAL_BUILDER_ID.replace(/@.*$/, '')}@refs/tags/v*"\n`,
          'policy.toml',
        );
        const { results, exitCode } = await verifyTargets(['contp-pkg==2.0'], { policy, trustedRoots: roots, index: server.url, cacheDir });
        assert.equal(exitCode, 0, `${results[0]?.reason} ${results[0]?.warnings.join('; ')}`);
        assert.deepEqual(results[0]!.verdict?.signer?.identity, REAL_BUILDER_ID);
        assert.ok(!results[0]!.warnings.some((w) => /mallory/.test(w)), results[0]!.warnings.join('; '));
      });

      test('a forged runDetails.builder.id is not what "Built by" shows, even on provenance bound at upload', async () => {
        const dist = makeDistribution(work, { name: 'forged-pkg', version: '1.0', kind: 'wheel' });
        assert.equal((await submit(dist.filename, sha256(dist.bytes), MALLORY, { builderId: REAL_BUILDER_ID })).status, 200);
        assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
        const page = await (await fetch(`${server.url}/project/forged-pkg/1.0/`)).text();
        const builtBy = [...page.matchAll(/<span class="prov-line prov-build[^"]*">([^<]*)<\/span>/g)].map((m) => m[1]);
        assert.deepEqual(builtBy, ['Built by mallory/junk/.github/workflows/j.yml@refs/heads/main from mallory/junk@aaaaaaa (submitted before upload)']);
        assert.match(page, /data-fact="builder">https:\/\/github.com\/mallory\/junk\/.github\/workflows\/j.yml@refs\/heads\/main</);
        assert.match(page, /Builder stated \(not certified\)<\/dt><dd><span class="url" data-fact="stated-builder">https:\/\/github.com\/cairn-dev\/builder/);
      });

      test("an attestation after the upload from the project's own publisher repository is first-party", async () => {
        const dist = makeDistribution(work, { name: 'own-pkg', version: '1.0', kind: 'wheel' });
        assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
        await server.services.publishers.add({ project: 'own-pkg', issuer: `${devTrustBase(server)}/oidc`, repository: 'octo-org/octo-repo', workflow: 'release.yml' }, new Date());
        const stranger = await submit(dist.filename, sha256(dist.bytes), EVE);
        assert.equal(stranger.status, 200);
        const own = await submit(dist.filename, sha256(dist.bytes));
        assert.equal(own.status, 200);
        assert.equal(own.body.first_party, true);
        const provenance = await integrity('own-pkg', '1.0', dist.filename);
        assert.deepEqual(identities(provenance.attestation_bundles), [REAL_BUILDER_ID]);
        assert.equal(identities(provenance.cairn_third_party?.attestation_bundles).length, 1);
        const json = (await (await fetch(`${server.url}/pypi/own-pkg/json`)).json()) as { info: { provenance_state: { state: string } } };
        assert.equal(json.info.provenance_state.state, 'full');
      });

      test("one signer cannot fill a file's attestation cap", async () => {
        const dist = makeDistribution(work, { name: 'capfill-pkg', version: '1.0', kind: 'wheel' });
        assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
        const digest = sha256(dist.bytes);
        for (let i = 0; i < 4; i++) assert.equal((await submit(dist.filename, digest, { ...MALLORY, sha: commit(i) })).status, 200);
        const before = await state();
        const refused = await submit(dist.filename, digest, { ...MALLORY, sha: commit(4) });
        assert.equal(refused.status, 429);
        assert.equal(refused.body.code, 'provenance.cap_reached');
        assert.match(String(refused.body.message), /already has 4 attestations on this file/);
        assert.deepEqual(await state(), before);
        assert.equal((await submit(dist.filename, digest, EVE)).status, 200, 'a real rebuilder still gets in');
      });
    });

    describe('trusted publishing (item 6)', () => {
      const exchange = async (claims: DevTokenClaims) => {
        const token = await devToken(server, { aud: server.config.oidcAudience, ...claims });
        const response = await fetch(`${server.url}/_/oidc/mint-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
        return { status: response.status, body: (await response.json()) as { code?: string; message?: string; errors?: { code: string; description: string }[]; token?: string } };
      };

      before(async () => {
        const issuer = `${devTrustBase(server)}/oidc`;
        await server.services.publishers.add({ project: 'hidden-proj', issuer, repository: 'acme/hidden', workflow: 'secret-release.yml', environment: 'prodsecret' }, new Date());
        await server.services.publishers.add({ project: 'awaited-proj', issuer, repository: 'acme/awaited', workflow: 'pending-release.yml' }, new Date());
      });

      test('a refusal names the claim that did not match and nothing of any publisher', async () => {
        const secrets = /hidden|awaited|acme|secret-release|pending-release|prodsecret|publisher \d/i;
        const cases: [DevTokenClaims, RegExp][] = [
          [MALLORY, /'repository' claim did not match/],
          [{ repository: 'acme/hidden', workflow_ref: 'acme/hidden/.github/workflows/ci.yml@refs/heads/main' }, /'repository', 'workflow_ref' claims did not match|'workflow_ref'/],
          [{ repository: 'acme/hidden', workflow_ref: 'acme/hidden/.github/workflows/secret-release.yml@refs/heads/main', environment: 'staging' }, /'environment'/],
        ];
        for (const [claims, why] of cases) {
          const answer = await exchange(claims);
          assert.equal(answer.status, 422, JSON.stringify(answer.body));
          const description = answer.body.errors?.[0]?.description ?? '';
          assert.equal(answer.body.code, 'oidc.no_matching_publisher');
          assert.match(description, why);
          // The token's own repository may of course appear in what it says about itself; nothing else.
          assert.doesNotMatch(description.replace(/acme\/hidden/g, ''), secrets, description);
        }
      });

      test('a name a pending publisher waits for cannot be taken with an API token; the publisher still creates it', async () => {
        const dist = makeDistribution(work, { name: 'awaited-proj', version: '1.0', kind: 'wheel' });
        const before = await state();
        const refused = await uploadFile(server.url, dist.path, auth);
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.equal(refused.body.code, 'project.reserved');
        assert.deepEqual(await state(), before, 'nothing stored');
        const minted = await exchange({ repository: 'acme/awaited', workflow_ref: 'acme/awaited/.github/workflows/pending-release.yml@refs/heads/main' });
        assert.equal(minted.status, 200, JSON.stringify(minted.body));
        assert.equal((await uploadFile(server.url, dist.path, basicAuth(minted.body.token!))).status, 200);
      });
    });

    describe('smaller items (item 8)', () => {
      test('a look-alike of an existing name is refused with name.confusable naming it, by upload and by the admin command', async () => {
        assert.equal((await uploadFile(server.url, makeDistribution(work, { name: 'example', version: '1.0', kind: 'wheel' }).path, auth)).status, 200);
        for (const name of ['examp1e', 'exampl-e', 'EXAMP_1E']) {
          const before = await state();
          const refused = await uploadFile(server.url, makeDistribution(work, { name, version: '1.0', kind: 'wheel' }).path, auth);
          assert.equal(refused.status, 400, `${name}: ${JSON.stringify(refused.body)}`);
          assert.equal(refused.body.code, 'name.confusable', name);
          assert.match(String(refused.body.message), /too similar to the existing project 'example'/);
          assert.deepEqual(await state(), before, `${name}: nothing stored`);
        }
        await assert.rejects(
          server.services.publishers.add({ project: 'ex-amp1e', issuer: `${devTrustBase(server)}/oidc`, repository: 'acme/lookalike', workflow: 'release.yml' }, new Date()),
          (error: { code?: string }) => error.code === 'name.confusable',
          'a pending publisher may not wait for a look-alike either',
        );
        const cli = await admin('project', 'create', 'ex.amp1e');
        assert.equal(cli.status, 2, cli.output);
        assert.match(cli.stderr, /error \[name\.confusable\]: .*'example'/);
        assert.equal((await uploadFile(server.url, makeDistribution(work, { name: 'examples', version: '1.0', kind: 'wheel' }).path, auth)).status, 200, 'a different name is fine');
        assert.equal((await uploadFile(server.url, makeDistribution(work, { name: 'example', version: '1.1', kind: 'wheel' }).path, auth)).status, 200, 'the project itself is not its own look-alike');
      });

      test('bidi controls in metadata are isolated in pages and stripped from feeds', async () => {
        const summary = 'Harmless \u202egnp.exe';
        const dist = makeDistribution(work, { name: 'bidi-pkg', version: '1.0', kind: 'wheel', summary });
        assert.equal((await uploadFile(server.url, dist.path, auth)).status, 200);
        for (const path of ['/project/bidi-pkg/', '/project/bidi-pkg/1.0/', '/']) {
          const page = await (await fetch(`${server.url}${path}`)).text();
          const occurrences = [...page.matchAll(/\u202e/g)].length;
          assert.ok(occurrences > 0, path);
          const isolated = [...page.matchAll(/\u2068Harmless \u202egnp\.exe\u202c\u2069/g)].length;
          assert.equal(isolated, occurrences, `${path}: every occurrence is closed and isolated`);
        }
        for (const path of ['/rss/project/bidi-pkg/releases.xml', '/rss/updates.xml']) {
          const feed = await (await fetch(`${server.url}${path}`)).text();
          assert.match(feed, /Harmless gnp\.exe/, path);
          assert.doesNotMatch(feed, /[\u202a-\u202e\u2066-\u2069\u200e\u200f]/, path);
        }
      });
    });
  });
}
