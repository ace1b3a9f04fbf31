import { generateKeyPairSync, sign as signData } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { SignJWT, decodeJwt, importPKCS8 } from 'jose';
import { bundleFromJSON, bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign';
import { X509Certificate, dsse } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { registerDevTrust, type DevTrustDomain } from '../../src/devtrust/routes.ts';
import { signStatement } from '../../src/client/signing.ts';

const SHA = 'a'.repeat(40);

interface RunningDomain {
  app: FastifyInstance;
  base: string;
  stateDir: string;
  domain: DevTrustDomain;
  close(): Promise<void>;
}

async function startDomain(stateDir: string, options: { prefix?: string; clock?: () => Date; logClock?: () => Date } = {}): Promise<RunningDomain> {
  const app = Fastify();
  const prefix = options.prefix ?? '/_/dev';
  let base = '';
  const domain = await registerDevTrust(app, { prefix, baseUrl: () => base, stateDir, clock: options.clock, logClock: options.logClock });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  base = `${address}${prefix}`;
  return { app, base, stateDir, domain, close: () => app.close() };
}

async function mintToken(base: string, claims: Record<string, unknown> = {}): Promise<string> {
  const response = await fetch(`${base}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ repository: 'octo-org/octo-repo', workflow_ref: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main', sha: SHA, ...claims }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return ((await response.json()) as { token: string }).token;
}

function statementFor(name: string): Record<string, unknown> {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name, digest: { sha256: 'b'.repeat(64) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: { buildType: 'https://example.invalid/python-dist/v1', externalParameters: {} }, runDetails: { builder: { id: 'x' } } },
  };
}

async function signWith(running: RunningDomain, name: string, claims: Record<string, unknown> = {}): Promise<SerializedBundle> {
  const token = await mintToken(running.base, claims);
  return signStatement(statementFor(name), token, { fulcioUrl: `${running.base}/fulcio`, rekorUrl: `${running.base}/rekor` });
}

async function rootOf(running: RunningDomain): Promise<Record<string, unknown>> {
  const response = await fetch(`${running.base}/trusted_root.json`);
  assert.equal(response.status, 200);
  return (await response.json()) as Record<string, unknown>;
}

/** Plain @sigstore/verify with its default thresholds (tlog 1, ctlog 1, timestamp 1). */
function verifyBundle(bundle: unknown, root: unknown) {
  const trustMaterial = toTrustMaterial(TrustedRoot.fromJSON(root));
  const entity = toSignedEntity(bundleFromJSON(bundle));
  return new Verifier(trustMaterial).verify(entity);
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function extensionText(certificate: X509Certificate, oid: string): string | undefined {
  const extension = certificate.extension(oid);
  if (!extension) return undefined;
  // DER UTF8String: tag 0x0c, length, bytes (short values only here).
  const value = extension.value;
  return value[0] === 0x0c ? value.subarray(2).toString('utf8') : value.toString('utf8');
}

describe('dev trust domain', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'cairn-devtrust-'));
  const otherStateDir = mkdtempSync(join(tmpdir(), 'cairn-devtrust-other-'));
  let running: RunningDomain;
  let other: RunningDomain;
  let bundle: SerializedBundle;
  let root: Record<string, unknown>;

  before(async () => {
    running = await startDomain(stateDir);
    other = await startDomain(otherStateDir, { prefix: '' });
    // An entry that is not the first, so its inclusion proof has hashes to tamper with.
    await signWith(running, 'demo-0.9.tar.gz');
    bundle = await signWith(running, 'demo-1.0-py3-none-any.whl');
    await signWith(running, 'demo-1.1.tar.gz');
    root = await rootOf(running);
  });

  after(async () => {
    await running?.close();
    await other?.close();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(otherStateDir, { recursive: true, force: true });
  });

  test('serves OIDC discovery and JWKS under BASE/oidc', async () => {
    const discovery = (await (await fetch(`${running.base}/oidc/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, `${running.base}/oidc`);
    assert.equal(discovery.jwks_uri, `${running.base}/oidc/jwks`);
    const jwks = (await (await fetch(`${running.base}/oidc/jwks`)).json()) as { keys: { kid: string; alg: string }[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.alg, 'ES256');
  });

  test('mints CI-like tokens with GitHub-style claims', async () => {
    const claims = decodeJwt(await mintToken(running.base, { ref: 'refs/tags/v1', job_workflow_ref: 'builder-org/builder/.github/workflows/build.yml@refs/tags/v2' }));
    assert.equal(claims.iss, `${running.base}/oidc`);
    assert.equal(claims.aud, 'sigstore');
    assert.equal(claims.repository, 'octo-org/octo-repo');
    assert.equal(claims.repository_owner, 'octo-org');
    assert.equal(claims.job_workflow_ref, 'builder-org/builder/.github/workflows/build.yml@refs/tags/v2');
    assert.equal(claims.workflow_ref, 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main');
    assert.equal(claims.sha, SHA);
    assert.equal(claims.ref, 'refs/tags/v1');
    assert.equal(claims.sub, 'repo:octo-org/octo-repo:ref:refs/tags/v1');
    assert.ok(typeof claims.jti === 'string' && typeof claims.run_id === 'string' && claims.run_attempt === '1');
    assert.equal(claims.runner_environment, 'github-hosted');
    assert.ok(claims.exp! - claims.iat! === 600);
  });

  test('the GitHub-style GET token request answers {value}', async () => {
    const url = `${running.base}/oidc/token?repository=o/r&workflow_ref=o/r/.github/workflows/w.yml@refs/heads/main&sha=${SHA}&audience=cairn`;
    const body = (await (await fetch(url)).json()) as { value: string };
    assert.equal(decodeJwt(body.value).aud, 'cairn');
  });

  test('a bundle signed against BASE/fulcio and BASE/rekor verifies offline with plain @sigstore/verify', () => {
    const signer = verifyBundle(bundle, root);
    assert.equal(signer.identity?.subjectAlternativeName, 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main');
    assert.equal(bundle.verificationMaterial.tlogEntries[0]!.kindVersion!.kind, 'dsse');
  });

  test('the certificate carries Fulcio extensions as DER UTF8Strings', () => {
    const raw = bundle.verificationMaterial.certificate?.rawBytes;
    assert.ok(raw);
    const certificate = X509Certificate.parse(Buffer.from(raw, 'base64'));
    const oid = (n: number) => `1.3.6.1.4.1.57264.1.${n}`;
    assert.equal(extensionText(certificate, oid(8)), `${running.base}/oidc`);
    assert.equal(certificate.extension(oid(1))?.value.toString('utf8'), `${running.base}/oidc`);
    assert.equal(extensionText(certificate, oid(9)), 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main');
    assert.equal(extensionText(certificate, oid(10)), SHA);
    assert.equal(extensionText(certificate, oid(11)), 'github-hosted');
    assert.equal(extensionText(certificate, oid(12)), 'https://github.com/octo-org/octo-repo');
    assert.equal(extensionText(certificate, oid(13)), SHA);
    assert.equal(extensionText(certificate, oid(14)), 'refs/heads/main');
    assert.equal(extensionText(certificate, oid(18)), 'https://github.com/octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main');
    assert.equal(extensionText(certificate, oid(19)), SHA);
    assert.match(extensionText(certificate, oid(21)) ?? '', /^https:\/\/github\.com\/octo-org\/octo-repo\/actions\/runs\/\d+\/attempts\/1$/);
    const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
    assert.equal(lifetime, 10 * 60 * 1000);
  });

  test('a repository given as a URL is certified as is; workflow URIs are rooted at BASE', async () => {
    const urlBundle = await signWith(running, 'url-1.0.tar.gz', {
      repository: 'https://git.example.test/team/project',
      workflow_ref: 'team/project/.ci/release.yml@refs/heads/main',
      job_workflow_ref: 'https://git.example.test/builders/python/.ci/build.yml@refs/tags/v1',
    });
    const certificate = X509Certificate.parse(Buffer.from(urlBundle.verificationMaterial.certificate!.rawBytes, 'base64'));
    assert.equal(extensionText(certificate, '1.3.6.1.4.1.57264.1.12'), 'https://git.example.test/team/project');
    assert.equal(extensionText(certificate, '1.3.6.1.4.1.57264.1.9'), 'https://git.example.test/builders/python/.ci/build.yml@refs/tags/v1');
    assert.equal(extensionText(certificate, '1.3.6.1.4.1.57264.1.18'), `${running.base}/team/project/.ci/release.yml@refs/heads/main`);
    verifyBundle(urlBundle, await rootOf(running));
  });

  test('the log also accepts the intoto 0.0.2 kind', async () => {
    const token = await mintToken(running.base);
    const signer = new FulcioSigner({ identityProvider: { getToken: async () => token }, fulcioBaseURL: `${running.base}/fulcio` });
    const builder = new DSSEBundleBuilder({ signer, witnesses: [new RekorWitness({ rekorBaseURL: `${running.base}/rekor`, entryType: 'intoto' })] });
    const intoto = bundleToJSON(await builder.create({ data: Buffer.from(JSON.stringify(statementFor('intoto-1.0.tar.gz'))), type: 'application/vnd.in-toto+json' }));
    assert.equal(intoto.verificationMaterial.tlogEntries[0]!.kindVersion!.kind, 'intoto');
    verifyBundle(intoto, await rootOf(running));
    const body = JSON.parse(Buffer.from(intoto.verificationMaterial.tlogEntries[0]!.canonicalizedBody, 'base64').toString('utf8')) as { spec: { content: { envelope: Record<string, unknown> } } };
    assert.equal(body.spec.content.envelope.payload, undefined, 'the canonical intoto body drops the payload');
  });

  test('the log answers GET /api/v1/log and entries by index', async () => {
    const info = (await (await fetch(`${running.base}/rekor/api/v1/log`)).json()) as { treeSize: number; rootHash: string; signedTreeHead: string };
    assert.ok(info.treeSize >= 3);
    assert.match(info.rootHash, /^[0-9a-f]{64}$/);
    assert.ok(info.signedTreeHead.includes(`\n${info.treeSize}\n`));
    // protobuf-JSON omits zero values, so index 0 has no logIndex field.
    const logIndex = Number(bundle.verificationMaterial.tlogEntries[0]!.logIndex ?? '0');
    const byIndex = (await (await fetch(`${running.base}/rekor/api/v1/log/entries?logIndex=${logIndex}`)).json()) as Record<string, { body: string; logIndex: number }>;
    const [uuid, entry] = Object.entries(byIndex)[0]!;
    assert.equal(entry.logIndex, logIndex);
    assert.equal(entry.body, bundle.verificationMaterial.tlogEntries[0]!.canonicalizedBody);
    const byUuid = await fetch(`${running.base}/rekor/api/v1/log/entries/${uuid}`);
    assert.equal(byUuid.status, 200);
    assert.equal((await fetch(`${running.base}/rekor/api/v1/log/entries?logIndex=999999`)).status, 404);
  });

  test('after a restart from the same state directory, old bundles still verify and the log continues', async () => {
    const sizeBefore = running.domain.log.size;
    await running.close();
    running = await startDomain(stateDir);
    assert.equal(running.domain.log.size, sizeBefore);
    const freshRoot = await rootOf(running);
    verifyBundle(bundle, freshRoot);
    const newer = await signWith(running, 'demo-2.0.tar.gz');
    assert.equal(Number(newer.verificationMaterial.tlogEntries[0]!.logIndex), sizeBefore);
    verifyBundle(newer, freshRoot);
    // The root written to the state directory is the one served.
    assert.deepEqual(JSON.parse(readFileSync(join(stateDir, 'trusted_root.json'), 'utf8')), freshRoot);
    root = freshRoot;
  });

  describe('tampered bundles are rejected', () => {
    const rejects = (mutate: (b: SerializedBundle) => unknown, useRoot?: () => unknown) => () => {
      const tampered = clone(bundle);
      const result = mutate(tampered);
      assert.throws(() => verifyBundle(result ?? tampered, useRoot ? useRoot() : root));
    };

    test('statement byte flipped', rejects((b) => {
      const payload = Buffer.from(b.dsseEnvelope!.payload, 'base64');
      payload[payload.length - 3]! ^= 0x01;
      b.dsseEnvelope!.payload = payload.toString('base64');
    }));

    test('signature from another key', rejects((b) => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pae = dsse.preAuthEncoding(b.dsseEnvelope!.payloadType, Buffer.from(b.dsseEnvelope!.payload, 'base64'));
      b.dsseEnvelope!.signatures[0]!.sig = signData('sha256', pae, privateKey).toString('base64');
    }));

    test('certificate from another domain instance', async () => {
      const foreign = await signWith(other, 'demo-1.0-py3-none-any.whl');
      assert.throws(() => verifyBundle(foreign, root), /certificate|CERTIFICATE|tlog|TLOG/i);
      // ... and even with the foreign log trusted, the foreign CA is not.
      const mixed = clone(root) as { tlogs: unknown[]; ctlogs: unknown[] };
      const otherRoot = (await rootOf(other)) as { tlogs: unknown[]; ctlogs: unknown[] };
      mixed.tlogs.push(...otherRoot.tlogs);
      mixed.ctlogs.push(...otherRoot.ctlogs);
      assert.throws(() => verifyBundle(foreign, mixed));
      verifyBundle(foreign, otherRoot);
    });

    test('log key not in the root', rejects(() => undefined, () => {
      const withoutLog = clone(root) as { tlogs: unknown[] };
      withoutLog.tlogs = [];
      return withoutLog;
    }));

    test('log key replaced by another log key', async () => {
      const swapped = clone(root) as { tlogs: unknown[] };
      swapped.tlogs = ((await rootOf(other)) as { tlogs: unknown[] }).tlogs;
      assert.throws(() => verifyBundle(bundle, swapped));
    });

    test('CT log key not in the root (no verifiable SCT)', rejects(() => undefined, () => {
      const withoutCt = clone(root) as { ctlogs: unknown[] };
      withoutCt.ctlogs = [];
      return withoutCt;
    }));

    test('inclusion proof hash altered', rejects((b) => {
      const proof = b.verificationMaterial.tlogEntries[0]!.inclusionProof!;
      assert.ok(proof.hashes.length > 0, 'the entry needs a non-trivial audit path');
      const hash = Buffer.from(proof.hashes[0]!, 'base64');
      hash[0]! ^= 0xff;
      proof.hashes[0] = hash.toString('base64');
    }));

    test('inclusion proof root hash altered', rejects((b) => {
      const proof = b.verificationMaterial.tlogEntries[0]!.inclusionProof!;
      const rootHash = Buffer.from(proof.rootHash, 'base64');
      rootHash[0]! ^= 0xff;
      proof.rootHash = rootHash.toString('base64');
      // The checkpoint carries the root too; alter it there (the signature then fails).
      proof.checkpoint.envelope = proof.checkpoint.envelope.replace(/\n([A-Za-z0-9+/=]{44})\n/, (_m, r: string) => `\n${Buffer.from(Buffer.from(r, 'base64').map((x) => x ^ 1)).toString('base64')}\n`);
    }));

    test('inclusion proof removed', rejects((b) => {
      delete b.verificationMaterial.tlogEntries[0]!.inclusionProof;
    }));

    test('inclusion promise (SET) altered', rejects((b) => {
      const entry = b.verificationMaterial.tlogEntries[0]!;
      entry.integratedTime = String(Number(entry.integratedTime) + 1);
    }));

    test('transparency entry removed', rejects((b) => {
      b.verificationMaterial.tlogEntries = [];
    }));
  });

  test('a certificate expired at integrated time is rejected', async () => {
    const backdatedDir = mkdtempSync(join(tmpdir(), 'cairn-devtrust-late-'));
    // The issuer and CA run an hour behind the log: the 10-minute certificate has expired by
    // the time the log integrates the entry.
    const late = await startDomain(backdatedDir, { clock: () => new Date(Date.now() - 60 * 60 * 1000), logClock: () => new Date() });
    try {
      const lateBundle = await signWith(late, 'late-1.0.tar.gz');
      assert.throws(() => verifyBundle(lateBundle, JSON.parse(readFileSync(join(backdatedDir, 'trusted_root.json'), 'utf8'))), /expired|CERTIFICATE/i);
    } finally {
      await late.close();
      rmSync(backdatedDir, { recursive: true, force: true });
    }
  });

  describe('signingCert refuses bad identity tokens with a 4xx and a code', () => {
    async function requestCertificate(token: string, subject?: string): Promise<{ status: number; body: { code?: string } }> {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const claimed = subject ?? (decodeJwtSafe(token)?.sub as string | undefined) ?? 'x';
      const response = await fetch(`${running.base}/fulcio/api/v2/signingCert`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          credentials: { oidcIdentityToken: token },
          publicKeyRequest: {
            publicKey: { algorithm: 'ECDSA', content: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
            proofOfPossession: signData('sha256', Buffer.from(claimed), privateKey).toString('base64'),
          },
        }),
      });
      return { status: response.status, body: (await response.json()) as { code?: string } };
    }

    function decodeJwtSafe(token: string): Record<string, unknown> | undefined {
      try {
        return decodeJwt(token);
      } catch {
        return undefined;
      }
    }

    async function domainSigned(claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
      const keys = JSON.parse(readFileSync(join(stateDir, 'keys.json'), 'utf8')) as { oidc: { privateKeyPem: string; kid: string } };
      const key = await importPKCS8(keys.oidc.privateKeyPem, 'ES256');
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: keys.oidc.kid, ...header }).sign(key);
    }

    test('a valid token is accepted (control)', async () => {
      const { status } = await requestCertificate(await mintToken(running.base));
      assert.equal(status, 201);
    });

    test('wrong audience', async () => {
      const { status, body } = await requestCertificate(await mintToken(running.base, { aud: 'pypi' }));
      assert.equal(status, 422);
      assert.equal(body.code, 'oidc.bad_audience');
    });

    test('expired', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await domainSigned({ iss: `${running.base}/oidc`, aud: 'sigstore', sub: 'repo:o/r:ref:refs/heads/main', repository: 'o/r', iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
      const { status, body } = await requestCertificate(token);
      assert.equal(status, 422);
      assert.equal(body.code, 'oidc.expired');
    });

    test('wrong issuer', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await domainSigned({ iss: 'https://token.actions.githubusercontent.com', aud: 'sigstore', sub: 's', iat: now, exp: now + 600 });
      const { status, body } = await requestCertificate(token);
      assert.equal(status, 422);
      assert.equal(body.code, 'oidc.bad_issuer');
    });

    test('forged: signed by another key under the domain kid', async () => {
      const genuine = decodeJwt(await mintToken(running.base));
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const keys = JSON.parse(readFileSync(join(stateDir, 'keys.json'), 'utf8')) as { oidc: { kid: string } };
      const forged = await new SignJWT(genuine).setProtectedHeader({ alg: 'ES256', kid: keys.oidc.kid }).sign(privateKey);
      const { status, body } = await requestCertificate(forged);
      assert.equal(status, 422);
      assert.equal(body.code, 'oidc.bad_signature');
    });

    test('alg none', async () => {
      const genuine = decodeJwt(await mintToken(running.base));
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const { status, body } = await requestCertificate(`${encode({ alg: 'none', typ: 'JWT' })}.${encode(genuine)}.`);
      assert.ok(status >= 400 && status < 500);
      assert.match(body.code ?? '', /^oidc\./);
    });

    test('garbage', async () => {
      const { status, body } = await requestCertificate('not-a-jwt', 'x');
      assert.equal(status, 422);
      assert.equal(body.code, 'oidc.malformed_token');
    });

    test('proof of possession over another subject', async () => {
      const { status, body } = await requestCertificate(await mintToken(running.base), 'someone-else');
      assert.equal(status, 400);
      assert.equal(body.code, 'oidc.proof_of_possession_invalid');
    });
  });

  test('the log refuses an entry whose signature does not verify', async () => {
    const good = bundle.dsseEnvelope!;
    const certificatePem = `-----BEGIN CERTIFICATE-----\n${bundle.verificationMaterial.certificate!.rawBytes}\n-----END CERTIFICATE-----\n`;
    const envelope = { ...good, payload: Buffer.from('{"tampered":true}').toString('base64') };
    const response = await fetch(`${running.base}/rekor/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: { proposedContent: { envelope: JSON.stringify(envelope), verifiers: [Buffer.from(certificatePem).toString('base64')] } },
      }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'provenance.signature_invalid');
  });

  test('the log answers 409 with the existing entry location for a duplicate', async () => {
    const certificatePem = `-----BEGIN CERTIFICATE-----\n${bundle.verificationMaterial.certificate!.rawBytes}\n-----END CERTIFICATE-----\n`;
    const { payload, payloadType, signatures } = bundle.dsseEnvelope!;
    const proposed = JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: { proposedContent: { envelope: JSON.stringify({ payloadType, payload, signatures }), verifiers: [Buffer.from(certificatePem).toString('base64')] } },
    });
    const post = () => fetch(`${running.base}/rekor/api/v1/log/entries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: proposed });
    const first = await post();
    assert.equal(first.status, 201);
    const [uuid] = Object.keys((await first.json()) as object);
    const second = await post();
    assert.equal(second.status, 409);
    assert.equal(second.headers.get('location'), `${running.base}/rekor/api/v1/log/entries/${uuid}`);
  });

  test('`cairn dev-trust token` prints a JWT minted by the domain at --url', async () => {
    // Asynchronously: the domain answers from this very process.
    const result = await promisify(execFile)(
      process.execPath,
      [
        'bin/cairn.mjs', 'dev-trust', 'token', '--url', running.base, '--repository', 'octo-org/octo-repo',
        '--workflow-ref', 'octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1',
        '--job-workflow-ref', 'builder-org/builder/.github/workflows/build.yml@refs/tags/v2', '--sha', SHA, '--ref', 'refs/tags/v1',
      ],
      { cwd: new URL('../../', import.meta.url), encoding: 'utf8', timeout: 60_000 },
    );
    const claims = decodeJwt(result.stdout.trim());
    assert.equal(claims.iss, `${running.base}/oidc`);
    assert.equal(claims.aud, 'sigstore');
    assert.equal(claims.repository, 'octo-org/octo-repo');
    assert.equal(claims.job_workflow_ref, 'builder-org/builder/.github/workflows/build.yml@refs/tags/v2');
    assert.equal(claims.workflow_ref, 'octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1');
    assert.equal(claims.ref, 'refs/tags/v1');
    assert.equal(claims.sha, SHA);
  });

  test('`cairn dev-trust --port 0 --out DIR` serves at its own root and writes trusted_root.json', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cairn-devtrust-cli-'));
    const child = spawn(process.execPath, ['bin/cairn.mjs', 'dev-trust', '--port', '0', '--out', out, '--quiet'], {
      cwd: new URL('../../', import.meta.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let seen = '';
        child.stdout.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          const match = /dev trust domain at (\S+)/.exec(seen);
          if (match && seen.includes('trusted root:')) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`dev-trust exited with ${code}: ${seen}`)));
        setTimeout(() => reject(new Error(`dev-trust did not start: ${seen}`)), 30_000).unref();
      });
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
      const served = (await (await fetch(`${base}/trusted_root.json`)).json()) as { tlogs: { baseUrl: string }[] };
      assert.equal(served.tlogs[0]!.baseUrl, `${base}/rekor`);
      assert.ok(existsSync(join(out, 'trusted_root.json')));
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'trusted_root.json'), 'utf8')), served);
      const token = await mintToken(base);
      const standalone = await signStatement(statementFor('standalone-1.0.tar.gz'), token, { fulcioUrl: `${base}/fulcio`, rekorUrl: `${base}/rekor` });
      verifyBundle(standalone, served);
    } finally {
      child.kill('SIGTERM');
      rmSync(out, { recursive: true, force: true });
    }
  });
});
