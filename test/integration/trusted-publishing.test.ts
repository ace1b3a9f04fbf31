import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { makeDistribution } from '../support/dist-factory.ts';
import { encodeMultipart, twineFields } from '../support/multipart.ts';
import { basicAuth, startTestServer, testEngines, type TestServer } from '../support/server.ts';

/**
 * Trusted Publishing end to end: a loopback OIDC issuer (discovery + JWKS, keys made with jose)
 * signs CI-like tokens; the index exchanges them for 15-minute upload tokens or refuses them with
 * the precise oidc.* code, storing nothing.
 */
type CryptoKeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

interface LoopbackIssuer {
  url: string;
  kid: string;
  privateKey: CryptoKeyLike;
  publicSpki: string;
  close(): Promise<void>;
}

async function startIssuer(): Promise<LoopbackIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `key-${randomUUID()}`;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let url = '';
  const server: Server = createServer((request, response) => {
    response.setHeader('Content-Type', 'application/json');
    if (request.url === '/.well-known/openid-configuration') {
      response.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
    } else if (request.url === '/jwks') {
      response.end(JSON.stringify({ keys: [jwk] }));
    } else {
      response.statusCode = 404;
      response.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    kid,
    privateKey,
    publicSpki: await exportSPKI(publicKey),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const work = mkdtempSync(join(tmpdir(), 'cairn-tp-'));
after(() => rmSync(work, { recursive: true, force: true }));
const published = makeDistribution(work, { name: 'tp-demo', version: '1.0', kind: 'wheel' });
const foreign = makeDistribution(work, { name: 'tp-other', version: '1.0', kind: 'wheel' });
const fresh = makeDistribution(work, { name: 'tp-fresh', version: '0.1', kind: 'sdist' });

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function upload(server: TestServer, dist: { filename: string; bytes: Buffer }, name: string, version: string, token: string) {
  const encoded = encodeMultipart([
    ...twineFields({ name, version, filetype: dist.filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist', sha256: sha256(dist.bytes) }),
    { name: 'content', filename: dist.filename, data: dist.bytes },
  ]);
  const response = await fetch(`${server.url}/legacy/`, {
    method: 'POST',
    body: encoded.body,
    headers: { 'Content-Type': encoded.contentType, Authorization: basicAuth(token) },
  });
  return { status: response.status, body: (await response.json()) as { code?: string } };
}

for (const { engine, skip } of await testEngines()) {
  describe(`trusted publishing on ${engine}`, { skip }, () => {
    let issuer: LoopbackIssuer;
    let stranger: LoopbackIssuer;
    let server: TestServer;
    let audience: string;

    const claimsFor = (overrides: JWTPayload = {}): JWTPayload => ({
      iss: issuer.url,
      aud: audience,
      sub: 'repo:Octo-Org/TP-Demo:ref:refs/tags/v1.0',
      repository: 'Octo-Org/TP-Demo',
      repository_owner: 'Octo-Org',
      workflow_ref: 'Octo-Org/TP-Demo/.github/workflows/release.yml@refs/tags/v1.0',
      job_workflow_ref: 'Octo-Org/TP-Demo/.github/workflows/release.yml@refs/tags/v1.0',
      ref: 'refs/tags/v1.0',
      sha: 'a'.repeat(40),
      jti: randomUUID(),
      ...overrides,
    });

    const sign = async (claims: JWTPayload, options: { key?: CryptoKeyLike; kid?: string; times?: { iat?: number; exp?: number; nbf?: number } } = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ ...claims, iat: options.times?.iat ?? now, exp: options.times?.exp ?? now + 300 }).setProtectedHeader({
        alg: 'RS256',
        kid: options.kid ?? issuer.kid,
        typ: 'JWT',
      });
      if (options.times?.nbf !== undefined) jwt.setNotBefore(options.times.nbf);
      return jwt.sign(options.key ?? issuer.privateKey);
    };

    const exchange = async (body: unknown, raw?: string) => {
      const response = await fetch(`${server.url}/_/oidc/mint-token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: raw ?? JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    const stored = async () => {
      const db = server.services.db;
      const n = async (table: 'api_tokens' | 'publishing_tokens' | 'oidc_used_jti' | 'projects') =>
        Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      return { tokens: await n('api_tokens'), links: await n('publishing_tokens'), jti: await n('oidc_used_jti'), projects: await n('projects') };
    };

    const refused = async (label: string, token: unknown, code: string, raw?: string) => {
      const before = await stored();
      const result = await exchange({ token }, raw);
      assert.equal(result.status, 422, `${label}: ${JSON.stringify(result.body)}`);
      assert.equal(result.body.code, code, `${label}: ${JSON.stringify(result.body)}`);
      assert.equal(result.body.message, 'Token request failed', label);
      const errors = result.body.errors as { code: string; description: string }[];
      assert.equal(errors.length, 1, label);
      assert.ok((errors[0]?.description.length ?? 0) > 10, `${label}: a description says what was wrong`);
      assert.deepEqual(await stored(), before, `${label}: nothing stored`);
      return result;
    };

    before(async () => {
      issuer = await startIssuer();
      stranger = await startIssuer();
      server = await startTestServer(engine, { trustedOidcIssuers: [issuer.url] });
      const publishers = server.services.publishers;
      const now = new Date();
      await server.services.index.createProject('tp-demo', now);
      await server.services.index.createProject('tp-other', now);
      await publishers.add({ project: 'tp-demo', issuer: issuer.url, kind: 'github', repository: 'octo-org/tp-demo', workflow: 'release.yml' }, now);
      await publishers.add(
        { project: 'tp-other', issuer: issuer.url, kind: 'github', repository: 'octo-org/tp-other', workflow: 'release.yml', environment: 'pypi' },
        now,
      );
      await publishers.add({ project: 'tp-fresh', issuer: issuer.url, kind: 'dev', repository: 'octo-org/tp-fresh', workflow: 'publish.yaml' }, now);
      await publishers.add(
        { project: 'tp-gitlab', issuer: issuer.url, kind: 'gitlab', repository: 'group/sub/tp-gitlab', workflow: 'ci/release.yml', environment: 'Release' },
        now,
      );
      audience = ((await (await fetch(`${server.url}/_/oidc/audience`)).json()) as { audience: string }).audience;
    });
    after(async () => {
      await server?.stop();
      await issuer?.close();
      await stranger?.close();
    });

    test('GET /_/oidc/audience names the configured audience', () => {
      assert.equal(audience, server.config.oidcAudience);
      assert.equal(audience, 'cairn');
    });

    test('a valid exchange mints a 15-minute token that uploads to its project only', async () => {
      const before = await stored();
      const result = await exchange({ token: await sign(claimsFor()) });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal(result.body.success, true);
      const token = result.body.token as string;
      const expires = result.body.expires as number;
      const nowSeconds = Date.now() / 1000;
      assert.ok(Math.abs(expires - (nowSeconds + 900)) < 30, `expires in 15 minutes, got ${expires - nowSeconds}s`);
      assert.deepEqual(await stored(), { ...before, tokens: before.tokens + 1, links: before.links + 1, jti: before.jti + 1 });
      // The database keeps only a hash of the token.
      const row = await server.services.db.selectFrom('api_tokens').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow();
      assert.equal(row.scope, 'publishing');
      assert.notEqual(row.token_hash, token);
      assert.ok(!JSON.stringify(row).includes(token));

      const ok = await upload(server, published, 'tp-demo', '1.0', token);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const denied = await upload(server, foreign, 'tp-other', '1.0', token);
      assert.equal(denied.status, 403, JSON.stringify(denied.body));
      assert.equal(denied.body.code, 'auth.forbidden');
      const files = await server.services.db.selectFrom('files').select('filename').execute();
      assert.deepEqual(files.map((f) => f.filename), [published.filename]);

      // PEP 740 publish attestations are checked against this publisher.
      const principal = await server.services.tokens.authenticateUpload(basicAuth(token), new Date());
      const publisher = await server.services.publishers.publisherForPrincipal(principal);
      assert.ok(publisher);
      assert.deepEqual(publisher.publisher, {
        kind: 'GitHub',
        repository: 'octo-org/tp-demo',
        workflow: 'release.yml',
        environment: null,
        claims: { ref: 'refs/tags/v1.0', sha: 'a'.repeat(40) },
      });
      const facts = {
        issuer: issuer.url,
        identity: 'https://github.com/Octo-Org/TP-Demo/.github/workflows/release.yml@refs/tags/v1.0',
        sourceRepositoryUri: 'https://github.com/Octo-Org/TP-Demo',
        buildConfigUri: 'https://github.com/Octo-Org/TP-Demo/.github/workflows/release.yml@refs/tags/v1.0',
      } as Parameters<typeof publisher.mismatch>[0];
      assert.equal(publisher.mismatch(facts), null);
      assert.match(publisher.mismatch({ ...facts, sourceRepositoryUri: 'https://github.com/evil/tp-demo' }) ?? '', /repository/);
      assert.match(
        publisher.mismatch({ ...facts, buildConfigUri: 'https://github.com/Octo-Org/TP-Demo/.github/workflows/other.yml@refs/tags/v1.0' }) ?? '',
        /workflow/,
      );
      assert.equal(await server.services.publishers.publisherForPrincipal({ ...principal, scope: 'projects' }), null);
    });

    test('the caller\'s workflow_ref is matched, so a reusable builder workflow does not break publishing', async () => {
      const result = await exchange({
        token: await sign(claimsFor({ job_workflow_ref: 'builders/slsa/.github/workflows/builder.yml@refs/tags/v2' })),
      });
      assert.equal(result.status, 200, JSON.stringify(result.body));
    });

    test('an environment-bound publisher needs its environment (case-insensitive on GitHub)', async () => {
      const claims = {
        sub: 'repo:octo-org/tp-other:environment:PyPI',
        repository: 'octo-org/tp-other',
        workflow_ref: 'octo-org/tp-other/.github/workflows/release.yml@refs/heads/main',
        ref: 'refs/heads/main',
      };
      const result = await exchange({ token: await sign(claimsFor({ ...claims, environment: 'PyPI' })) });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      await refused('no environment', await sign(claimsFor(claims)), 'oidc.no_matching_publisher');
      await refused('other environment', await sign(claimsFor({ ...claims, environment: 'staging' })), 'oidc.no_matching_publisher');
    });

    test('GitLab rules: project_path, ci_config_ref_uri file and environment', async () => {
      const host = new URL(issuer.url).host;
      const claims = {
        sub: 'project_path:group/sub/tp-gitlab:ref_type:branch:ref:main',
        project_path: 'Group/Sub/TP-GitLab',
        ci_config_ref_uri: `${host}/group/sub/tp-gitlab//ci/release.yml@refs/heads/main`,
        ref_path: 'refs/heads/main',
        sha: 'b'.repeat(40),
        environment: 'Release',
      };
      const before = await stored();
      const result = await exchange({ token: await sign(claimsFor(claims)) });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      // tp-gitlab did not exist: its pending publisher created it with the exchange.
      assert.equal((await stored()).projects, before.projects + 1);
      await refused('GitLab environments are case-sensitive', await sign(claimsFor({ ...claims, environment: 'release' })), 'oidc.no_matching_publisher');
      await refused(
        'another CI file',
        await sign(claimsFor({ ...claims, ci_config_ref_uri: `${host}/group/sub/tp-gitlab//.gitlab-ci.yml@refs/heads/main` })),
        'oidc.no_matching_publisher',
      );
    });

    test('a pending publisher creates its project with the first exchange, then publishes to it', async () => {
      const claims = claimsFor({
        sub: 'repo:octo-org/tp-fresh:ref:refs/heads/main',
        repository: 'https://github.com/Octo-Org/tp-fresh',
        workflow_ref: 'octo-org/tp-fresh/.github/workflows/publish.yaml@refs/heads/main',
        ref: 'refs/heads/main',
      });
      const result = await exchange({ token: await sign(claims) });
      assert.equal(result.status, 200, JSON.stringify(result.body));
      const project = await server.services.db.selectFrom('projects').selectAll().where('normalized_name', '=', 'tp-fresh').executeTakeFirst();
      assert.ok(project, 'the project exists');
      const publisher = await server.services.db.selectFrom('trusted_publishers').selectAll().where('repository', '=', 'octo-org/tp-fresh').executeTakeFirstOrThrow();
      assert.equal(publisher.project_id, project.id);
      assert.equal(publisher.pending_project_name, null);
      const ok = await upload(server, fresh, 'tp-fresh', '0.1', result.body.token as string);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });

    test('bad JWTs are refused with their precise code and store nothing', async () => {
      const now = Math.floor(Date.now() / 1000);
      await refused('wrong audience', await sign(claimsFor({ aud: 'pypi' })), 'oidc.bad_audience');
      await refused('expired', await sign(claimsFor(), { times: { iat: now - 900, exp: now - 120 } }), 'oidc.expired');
      await refused('not yet valid', await sign(claimsFor(), { times: { nbf: now + 600, exp: now + 900 } }), 'oidc.not_yet_valid');
      await refused('issued in the future', await sign(claimsFor(), { times: { iat: now + 600, exp: now + 900 } }), 'oidc.not_yet_valid');
      await refused('signed by another key under the same kid', await sign(claimsFor(), { key: stranger.privateKey }), 'oidc.bad_signature');
      await refused('unknown kid', await sign(claimsFor(), { kid: 'rotated-away' }), 'oidc.unknown_key');
      const header = b64url({ alg: 'none', typ: 'JWT', kid: issuer.kid });
      await refused('alg none', `${header}.${b64url({ ...claimsFor(), iat: now, exp: now + 300 })}.`, 'oidc.bad_algorithm');
      const hs256 = await new SignJWT({ ...claimsFor(), iat: now, exp: now + 300 })
        .setProtectedHeader({ alg: 'HS256', kid: issuer.kid })
        .sign(new TextEncoder().encode(issuer.publicSpki));
      await refused('HS256 keyed with the public key', hs256, 'oidc.bad_algorithm');
      const strangerToken = await new SignJWT({ ...claimsFor({ iss: stranger.url }), iat: now, exp: now + 300 })
        .setProtectedHeader({ alg: 'RS256', kid: stranger.kid })
        .sign(stranger.privateKey);
      await refused('issuer not trusted', strangerToken, 'oidc.bad_issuer');
      await refused('no jti', await sign(claimsFor({ jti: undefined })), 'oidc.malformed_token');
      await refused('malformed base64', 'eyJhbGciOiJSUzI1NiJ9.@@@.sig', 'oidc.malformed_token');
      await refused('malformed JSON', `${Buffer.from('{"alg":').toString('base64url')}.${b64url({})}.c2ln`, 'oidc.malformed_token');
      await refused('no token', undefined, 'oidc.malformed_token');
      await refused('body is not JSON', undefined, 'oidc.malformed_token', '{not json');
    });

    test('a jti is exchanged once', async () => {
      const jwt = await sign(claimsFor());
      assert.equal((await exchange({ token: jwt })).status, 200);
      await refused('replayed jti', jwt, 'oidc.replayed');
      await refused('same jti in another token', await sign(claimsFor({ jti: JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()).jti })), 'oidc.replayed');
    });

    test('claims of another repository, workflow or ref match no publisher', async () => {
      await refused('another repository', await sign(claimsFor({ repository: 'evil/tp-demo', sub: 'repo:evil/tp-demo:ref:refs/tags/v1.0' })), 'oidc.no_matching_publisher');
      await refused(
        'repository claim lies about sub',
        await sign(claimsFor({ sub: 'repo:evil/tp-demo:ref:refs/tags/v1.0' })),
        'oidc.no_matching_publisher',
      );
      await refused(
        'another workflow',
        await sign(claimsFor({ workflow_ref: 'Octo-Org/TP-Demo/.github/workflows/ci.yml@refs/tags/v1.0' })),
        'oidc.no_matching_publisher',
      );
      await refused(
        'workflow of another repository',
        await sign(claimsFor({ workflow_ref: 'evil/repo/.github/workflows/release.yml@refs/tags/v1.0' })),
        'oidc.no_matching_publisher',
      );
      await refused(
        'workflow at a ref that is not the run\'s',
        await sign(claimsFor({ workflow_ref: 'Octo-Org/TP-Demo/.github/workflows/release.yml@refs/heads/evil' })),
        'oidc.no_matching_publisher',
      );
    });

    test('removing a publisher expires the tokens it minted', async () => {
      const minted = await exchange({ token: await sign(claimsFor()) });
      assert.equal(minted.status, 200);
      const link = await server.services.db.selectFrom('publishing_tokens').select('publisher_id').orderBy('token_id', 'desc').executeTakeFirstOrThrow();
      await server.services.publishers.remove(link.publisher_id, new Date());
      const result = await upload(server, makeDistribution(work, { name: 'tp-demo', version: '2.0', kind: 'wheel' }), 'tp-demo', '2.0', minted.body.token as string);
      assert.equal(result.status, 403);
      assert.equal(result.body.code, 'auth.invalid_token');
      await refused('publisher gone', await sign(claimsFor()), 'oidc.no_matching_publisher');
    });
  });
}

describe('cairn admin publisher', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-tp-cli-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const cairn = (...args: string[]) =>
    execFileSync(process.execPath, [new URL('../../bin/cairn.mjs', import.meta.url).pathname, ...args, '--data-dir', dataDir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'CAIRN_DATABASE_URL')),
    });

  test('add, list, remove', () => {
    const added = JSON.parse(
      cairn('admin', 'publisher', 'add', '--project', 'cli-demo', '--issuer', 'https://token.actions.githubusercontent.com', '--repository', 'octo/cli-demo', '--workflow', 'release.yml', '--environment', 'pypi', '--json'),
    ) as { id: number; kind: string; pending: boolean };
    assert.equal(added.kind, 'github');
    assert.equal(added.pending, true);
    const listed = JSON.parse(cairn('admin', 'publisher', 'list', '--json')) as { id: number; project: string; repository: string; workflow: string; environment: string }[];
    assert.deepEqual(
      listed.map((p) => [p.id, p.project, p.repository, p.workflow, p.environment]),
      [[added.id, 'cli-demo', 'octo/cli-demo', 'release.yml', 'pypi']],
    );
    assert.match(cairn('admin', 'publisher', 'list'), /cli-demo \(pending/);
    assert.match(cairn('admin', 'publisher', 'remove', String(added.id)), /removed/);
    assert.match(cairn('admin', 'publisher', 'list'), /no trusted publishers/);
    assert.throws(
      () => cairn('admin', 'publisher', 'add', '--project', 'cli-demo', '--issuer', 'https://token.actions.githubusercontent.com', '--repository', 'not a repo', '--workflow', 'release.yml'),
      (error: { status?: number }) => error.status === 2,
    );
  });
});
