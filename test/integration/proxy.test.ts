import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProxyServer, type RunningProxy } from '../../src/client/proxy/proxy-app.ts';
import { parsePolicy } from '../../src/policy/index.ts';
import { formatProxyEvent, VerifyingProxy, type ProxyEvent, type UpstreamLimits } from '../../src/client/proxy/index.ts';
import { loadExtraRoots, VerifyCache } from '../../src/client/verify/index.ts';
import type { TrustedRootJson } from '../../src/trust/trusted-roots.ts';
import { CAIRN_BIN, runCommand } from '../support/commands.ts';
import { makeDistribution } from '../support/dist-factory.ts';
import { devTrustBase, provideBuildProvenance, type DevTokenClaims } from '../support/provenance.ts';
import { createVenv, PIP_ENV } from '../support/python-projects.ts';
import { hasPythonBuildTools, skipUnless } from '../support/requirements.ts';
import { basicAuth, startTestServer, type TestServer } from '../support/server.ts';
import { startStaticIndex, type StaticIndex } from '../support/static-index.ts';
import { uploadFile } from '../support/upload.ts';

/**
 * `cairn proxy` end to end on loopback: a cairn index with the dev trust domain holds two
 * releases of one project, built by a trusted and an untrusted builder (both provenance valid);
 * the proxy, whose policy trusts only the first, lists only that release, pip installs it and
 * cannot get the other, and the proxy's pages and log say why. A tampered upstream (real
 * attestation, other bytes) never delivers a complete file.
 */
const TRUSTED_BUILDER = 'trusted-org/builder/.github/workflows/build.yml@refs/tags/v1';
const UNTRUSTED_BUILDER = 'mallory/builder/.github/workflows/build.yml@refs/tags/v1';
const JSON_ACCEPT = { Accept: 'application/vnd.pypi.simple.v1+json' };

const work = mkdtempSync(join(tmpdir(), 'cairn-proxy-'));
let server: TestServer;
let base: string;
let auth: string;
let roots: TrustedRootJson[];
let running: RunningProxy;
const events: ProxyEvent[] = [];
const files = new Map<string, { filename: string; bytes: Buffer; sha256: string }>();

async function publish(name: string, version: string, claims: DevTokenClaims, randomBytes?: number): Promise<void> {
  const dist = makeDistribution(work, { name, version, kind: 'wheel', payload: `VERSION = "${version}"\n`, ...(randomBytes ? { randomBytes } : {}) });
  const provided = await provideBuildProvenance(server, dist.path, { claims });
  assert.equal(provided.submitted.status, 200, JSON.stringify(provided.submitted.body));
  const uploaded = await uploadFile(server.url, dist.path, auth);
  assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
  files.set(`${name}==${version}`, { filename: dist.filename, bytes: dist.bytes, sha256: createHash('sha256').update(dist.bytes).digest('hex') });
}

function policyText(): string {
  const identity = `https://github.com/${TRUSTED_BUILDER.replace(/@.*$/, '')}@refs/tags/v*`;
  return `version = 1\n[defaults]\nrequire = "build"\n\n[[builders]]\nissuer = "${base}/oidc"\nidentity = "${identity}"\n`;
}

function untrustedReason(filename: string): string {
  return `${filename}: build attestation signed by https://github.com/${UNTRUSTED_BUILDER} (issuer ${base}/oidc) matches no [[builders]] entry of the policy`;
}

async function startProxy(upstream: string, cacheName: string, sink: ProxyEvent[] = events, limits: Partial<UpstreamLimits> = {}): Promise<RunningProxy> {
  const proxy = new VerifyingProxy({
    upstream,
    policy: parsePolicy(policyText(), 'proxy-policy.toml'),
    trustedRoots: roots,
    cacheDir: join(work, cacheName),
    onEvent: (event) => sink.push(event),
    limits,
  });
  return startProxyServer(proxy, { port: 0 });
}

/** A raw GET that reports whether the body arrived complete (fetch hides a cut connection's partial body). */
function rawGet(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const request = get(url, (response) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        resolve({ status: response.statusCode ?? 0, headers: response.headers, bytes: Buffer.concat(chunks), complete: response.complete });
      };
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', finish);
      response.on('error', finish);
      response.on('aborted', finish);
      response.on('close', finish);
    });
    request.on('error', reject);
  });
}

before(async () => {
  server = await startTestServer('sqlite', { devTrust: true });
  base = devTrustBase(server);
  auth = basicAuth(await server.token('new_projects'));
  roots = await loadExtraRoots([`${base}/trusted_root.json`], { cache: new VerifyCache(join(work, 'roots')), offline: false });
  await publish('proxy-demo', '1.0', { job_workflow_ref: TRUSTED_BUILDER });
  await publish('proxy-demo', '2.0', { job_workflow_ref: UNTRUSTED_BUILDER });
  await publish('proxy-none', '1.0', { job_workflow_ref: UNTRUSTED_BUILDER });
  // Large enough to stream in many chunks, so a cut download has received a real prefix.
  await publish('proxy-big', '1.0', { job_workflow_ref: TRUSTED_BUILDER }, 3 * 1024 * 1024);
  running = await startProxy(server.url, 'cache');
});
after(async () => {
  await running?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('cairn proxy in front of a cairn index (dev trust domain)', () => {
  test('the PEP 691 page lists only the release whose builder the policy trusts, and says a file is hidden', async () => {
    const response = await fetch(`${running.url}/simple/proxy-demo/`, { headers: JSON_ACCEPT });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/vnd\.pypi\.simple\.v1\+json\b/);
    assert.equal(response.headers.get('x-cairn-proxy-hidden'), '1');
    const page = (await response.json()) as { name: string; versions: string[]; files: { filename: string; url: string; hashes: { sha256: string }; provenance: string | null; 'core-metadata': unknown }[]; '_cairn-proxy': { hidden: number; total: number; details: string } };
    const trusted = files.get('proxy-demo==1.0')!;
    assert.deepEqual(page.files.map((f) => f.filename), [trusted.filename]);
    assert.deepEqual(page.versions, ['1.0']);
    assert.equal(page.files[0]!.hashes.sha256, trusted.sha256);
    assert.equal(page.files[0]!['core-metadata'], false, 'core metadata is not covered by provenance, so it is not offered');
    assert.deepEqual(page['_cairn-proxy'].hidden, 1);
    assert.equal(page['_cairn-proxy'].total, 2);
    assert.equal(new URL(page['_cairn-proxy'].details, response.url).pathname, '/project/proxy-demo/');

    // The provenance link resolves on the proxy and serves the upstream's PEP 740 object.
    const provenance = await fetch(new URL(page.files[0]!.provenance!, response.url));
    assert.equal(provenance.status, 200);
    assert.equal(((await provenance.json()) as { version: number }).version, 1);

    const html = await (await fetch(`${running.url}/simple/proxy-demo/`)).text();
    assert.match(html, new RegExp(`href="\\.\\./\\.\\./files/proxy-demo/${trusted.sha256}/${trusted.filename.replace(/\./g, '\\.')}#sha256=${trusted.sha256}"`));
    assert.doesNotMatch(html, /proxy_demo-2\.0/);
    assert.match(html, /1 of 2 upstream files of proxy-demo are hidden because they do not pass the policy\. Why: <a href="\.\.\/\.\.\/project\/proxy-demo\/">/);
  });

  test('names are normalised by redirect, on the simple page and the project page', async () => {
    const query = `?format=${encodeURIComponent('application/vnd.pypi.simple.v1+json')}`;
    const simple = await fetch(`${running.url}/simple/Proxy_Demo/${query}`, { redirect: 'manual' });
    assert.equal(simple.status, 301);
    assert.equal(simple.headers.get('location'), `/simple/proxy-demo/${query}`);
    const noSlash = await fetch(`${running.url}/simple/proxy-demo`, { redirect: 'manual' });
    assert.equal(noSlash.headers.get('location'), '/simple/proxy-demo/');
    const project = await fetch(`${running.url}/project/PROXY.demo/`, { redirect: 'manual' });
    assert.equal(project.headers.get('location'), '/project/proxy-demo/');
    const unknown = await fetch(`${running.url}/simple/no-such-project/`, { headers: JSON_ACCEPT });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, 'project.not_found');
  });

  test('the project page shows each upstream file as listed or hidden with the exact policy reason', async () => {
    const hiddenFile = files.get('proxy-demo==2.0')!;
    const json = (await (await fetch(`${running.url}/project/proxy-demo/?format=json`)).json()) as { listed: number; hidden: number; files: { filename: string; status: string; code: string | null; reason: string; signer: { identity: string } | null; attestations: { verified: boolean }[] }[] };
    assert.equal(json.listed, 1);
    assert.equal(json.hidden, 1);
    const hidden = json.files.find((f) => f.filename === hiddenFile.filename)!;
    assert.equal(hidden.status, 'hidden');
    assert.equal(hidden.code, 'policy.untrusted_builder');
    assert.equal(hidden.reason, untrustedReason(hiddenFile.filename));
    assert.equal(hidden.attestations[0]!.verified, true, 'the provenance itself is valid: the policy alone hides the file');
    const shown = json.files.find((f) => f.filename === files.get('proxy-demo==1.0')!.filename)!;
    assert.equal(shown.status, 'listed');
    assert.equal(shown.code, null);
    assert.equal(shown.signer?.identity, `https://github.com/${TRUSTED_BUILDER}`);

    const html = await (await fetch(`${running.url}/project/proxy-demo/`)).text();
    const row = new RegExp(`<tr id="${hiddenFile.filename.replace(/\./g, '\\.')}" data-status="hidden" data-code="policy.untrusted_builder">[\\s\\S]*?</tr>`).exec(html)?.[0];
    assert.ok(row, html);
    assert.ok(row.includes('<code>[policy.untrusted_builder]</code>'), row);
    assert.ok(row.includes(untrustedReason(hiddenFile.filename).replace(/&/g, '&amp;')), row);
  });

  test('when no file passes, the HTML page points to the reasons and the JSON page lists nothing', async () => {
    const html = await (await fetch(`${running.url}/simple/proxy-none/`)).text();
    assert.doesNotMatch(html, /\.whl/);
    assert.match(html, /cairn proxy: none of the 1 upstream files of proxy-none passes the policy\. Why: <a href="\.\.\/\.\.\/project\/proxy-none\/">\/project\/proxy-none\/<\/a>/);
    const json = (await (await fetch(`${running.url}/simple/proxy-none/`, { headers: JSON_ACCEPT })).json()) as { files: unknown[]; '_cairn-proxy': { hidden: number } };
    assert.deepEqual(json.files, []);
    assert.equal(json['_cairn-proxy'].hidden, 1);
    const page = await (await fetch(`${running.url}/project/proxy-none/`)).text();
    assert.match(page, /pip and uv find no installable file of this project through the proxy/);
  });

  test('hidden files are recorded once, logged with a pointer to the project page, and kept in hidden.jsonl', async () => {
    await fetch(`${running.url}/simple/proxy-demo/`, { headers: JSON_ACCEPT });
    const hiddenFile = files.get('proxy-demo==2.0')!;
    const records = running.proxy.hiddenFiles().filter((r) => r.filename === hiddenFile.filename);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.code, 'policy.untrusted_builder');
    assert.equal(records[0]!.cause, 'policy');
    assert.equal(records[0]!.sha256, hiddenFile.sha256);
    const hiddenEvents = events.filter((e) => e.type === 'hidden' && e.record.filename === hiddenFile.filename);
    assert.equal(hiddenEvents.length, 1, 'logged once, not on every page view');
    assert.equal(
      formatProxyEvent(hiddenEvents[0]!, running.url),
      `cairn proxy: hid ${hiddenFile.filename} (proxy-demo 2.0) [policy.untrusted_builder] ${untrustedReason(hiddenFile.filename)} — see ${running.url}/project/proxy-demo/`,
    );
    const api = (await (await fetch(`${running.url}/_/hidden`)).json()) as { hidden: { filename: string; code: string }[] };
    assert.ok(api.hidden.some((r) => r.filename === hiddenFile.filename && r.code === 'policy.untrusted_builder'));
    const lines = readFileSync(join(work, 'cache', 'proxy', 'hidden.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { filename: string; reason: string });
    assert.equal(lines.filter((l) => l.filename === hiddenFile.filename).length, 1);
    const overview = await (await fetch(`${running.url}/`)).text();
    assert.ok(overview.includes(hiddenFile.filename) && overview.includes('[policy.untrusted_builder]'));
  });

  test('downloads stream through with the verified digest, then come from the cache; hidden files are refused', async () => {
    const trusted = files.get('proxy-demo==1.0')!;
    const url = `${running.url}/files/proxy-demo/${trusted.sha256}/${trusted.filename}`;
    const first = await fetch(url);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-cairn-proxy-from'), 'upstream');
    assert.deepEqual(Buffer.from(await first.arrayBuffer()), trusted.bytes);
    const cached = join(work, 'cache', 'files', trusted.sha256.slice(0, 2), trusted.sha256);
    assert.deepEqual(readFileSync(cached), trusted.bytes);
    const second = await fetch(url);
    assert.equal(second.headers.get('x-cairn-proxy-from'), 'cache');
    assert.equal(second.headers.get('transfer-encoding'), 'chunked', 'a cut download must be detectable by any client');
    assert.deepEqual(Buffer.from(await second.arrayBuffer()), trusted.bytes);
    assert.ok(events.some((e) => e.type === 'served' && e.filename === trusted.filename && e.from === 'cache'));

    const untrusted = files.get('proxy-demo==2.0')!;
    const refused = await fetch(`${running.url}/files/proxy-demo/${untrusted.sha256}/${untrusted.filename}`);
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as { code: string; message: string };
    assert.equal(body.code, 'proxy.file_hidden');
    assert.ok(body.message.includes('[policy.untrusted_builder]'), body.message);
    const wrongDigest = await fetch(`${running.url}/files/proxy-demo/${'0'.repeat(64)}/${trusted.filename}`);
    assert.equal(wrongDigest.status, 404);
  });
});

describe('cairn proxy in front of an upstream serving other bytes than its attestation covers', () => {
  let fake: StaticIndex;
  let genuine: { filename: string; bytes: Buffer; sha256: string };
  let altered: Buffer;
  const skipPip = skipUnless(hasPythonBuildTools(), 'python3 with venv and pip (Debian python3-venv)');

  before(async () => {
    genuine = files.get('proxy-big==1.0')!;
    // The real attestation from the index, listed with the real digest; only the bytes differ.
    const provenance = await (await fetch(`${server.url}/integrity/proxy-big/1.0/${genuine.filename}/provenance`)).text();
    altered = Buffer.from(genuine.bytes);
    altered[altered.length - 10] = altered[altered.length - 10]! ^ 0xff;
    fake = await startStaticIndex();
    fake.routes.set('/simple/proxy-big/', {
      contentType: 'application/vnd.pypi.simple.v1+json',
      body: JSON.stringify({
        meta: { 'api-version': '1.3' },
        name: 'proxy-big',
        files: [{ filename: genuine.filename, url: `/dl/${genuine.filename}`, hashes: { sha256: genuine.sha256 }, 'requires-python': null, yanked: false, provenance: `/prov/${genuine.filename}` }],
      }),
    });
    fake.routes.set(`/prov/${genuine.filename}`, { contentType: 'application/vnd.pypi.integrity.v1+json', body: provenance });
  });
  after(async () => {
    await fake?.close();
  });

  test('the file is listed (its provenance is genuine), but its download is cut short and then delisted', async () => {
    fake.routes.set(`/dl/${genuine.filename}`, { body: altered });
    const sink: ProxyEvent[] = [];
    const tampered = await startProxy(fake.url, 'tampered-cache', sink);
    try {
      const page = (await (await fetch(`${tampered.url}/simple/proxy-big/`, { headers: JSON_ACCEPT })).json()) as { files: { filename: string; url: string }[] };
      assert.deepEqual(page.files.map((f) => f.filename), [genuine.filename]);
      const download = await rawGet(new URL(page.files[0]!.url, `${tampered.url}/simple/proxy-big/`).toString());
      assert.equal(download.status, 200);
      assert.equal(download.headers['transfer-encoding'], 'chunked');
      assert.equal(download.complete, false, 'the response must not complete');
      assert.ok(download.bytes.length > 0, 'bytes stream through before the digest is known');
      assert.ok(download.bytes.length < genuine.bytes.length, `received ${download.bytes.length} of ${genuine.bytes.length} bytes`);
      assert.deepEqual(download.bytes, altered.subarray(0, download.bytes.length));
      assert.equal(existsSync(join(work, 'tampered-cache', 'files', genuine.sha256.slice(0, 2), genuine.sha256)), false, 'nothing cached');

      const rejected = sink.filter((e) => e.type === 'download_rejected');
      assert.equal(rejected.length, 1);
      assert.equal(rejected[0]!.type === 'download_rejected' && rejected[0]!.record.code, 'verify.digest_mismatch');
      assert.match(formatProxyEvent(rejected[0]!, tampered.url), /^cairn proxy: aborted download of proxy_big-1\.0-py3-none-any\.whl \(proxy-big\) \[verify\.digest_mismatch\] upstream: .* have sha256 [0-9a-f]{64}, but the verified listing says /);
      assert.ok(tampered.proxy.hiddenFiles().some((r) => r.cause === 'download' && r.filename === genuine.filename));
      const later = (await (await fetch(`${tampered.url}/simple/proxy-big/`, { headers: JSON_ACCEPT })).json()) as { files: unknown[] };
      assert.deepEqual(later.files, [], 'an upstream caught serving other bytes loses the listing');
      const json = (await (await fetch(`${tampered.url}/project/proxy-big/?format=json`)).json()) as { files: { code: string }[] };
      assert.equal(json.files[0]!.code, 'verify.digest_mismatch');
    } finally {
      await tampered.close();
    }
  });

  test('a truncated upstream download is cut off as well', async () => {
    fake.routes.set(`/dl/${genuine.filename}`, { body: genuine.bytes, truncateTo: genuine.bytes.length - 100 });
    const sink: ProxyEvent[] = [];
    const fresh = await startProxy(fake.url, 'truncated-cache', sink);
    try {
      const download = await rawGet(`${fresh.url}/files/proxy-big/${genuine.sha256}/${genuine.filename}`);
      assert.equal(download.status, 200);
      assert.equal(download.complete, false);
      assert.ok(download.bytes.length < genuine.bytes.length - 100);
      assert.ok(sink.some((e) => e.type === 'download_rejected' && e.record.code === 'verify.digest_mismatch'));
    } finally {
      await fresh.close();
    }
  });

  test('an upstream download that stalls is cut at the idle deadline, and nothing is cached', async () => {
    fake.routes.set(`/dl/${genuine.filename}`, {
      body: '',
      handle: (_request, response) => {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': genuine.bytes.length });
        response.write(genuine.bytes.subarray(0, 256 * 1024));
      },
    });
    const stalled = await startProxy(fake.url, 'stalled-cache', [], { downloadIdleMs: 1000 });
    try {
      const start = performance.now();
      const download = await rawGet(`${stalled.url}/files/proxy-big/${genuine.sha256}/${genuine.filename}`);
      const ms = performance.now() - start;
      assert.equal(download.status, 200);
      assert.equal(download.complete, false, 'the response must not complete');
      assert.ok(ms < 4000, `cut after ${ms} ms`);
      assert.equal(existsSync(join(work, 'stalled-cache', 'files', genuine.sha256.slice(0, 2), genuine.sha256)), false, 'nothing cached');
    } finally {
      await stalled.close();
    }
  });

  test('pip gets no installed package from the tampered upstream', { skip: skipPip }, async () => {
    fake.routes.set(`/dl/${genuine.filename}`, { body: altered });
    const fresh = await startProxy(fake.url, 'pip-tampered-cache');
    try {
      const venv = createVenv(join(work, 'venv-tampered'));
      const install = await runCommand(venv.pip, ['install', '--index-url', `${fresh.url}/simple/`, 'proxy-big'], { env: PIP_ENV });
      assert.notEqual(install.status, 0, install.output);
      // pip sees a broken transfer (no final chunk), not a complete file that fails its hash.
      assert.match(install.output, /Connection broken|InvalidChunkLength|IncompleteRead/, install.output);
      assert.doesNotMatch(install.output, /Successfully installed/);
      const imported = await runCommand(venv.python, ['-c', 'import proxy_big']);
      assert.notEqual(imported.status, 0, 'nothing was installed');
      assert.ok(fresh.proxy.hiddenFiles().some((r) => r.cause === 'download' && r.code === 'verify.digest_mismatch'));
    } finally {
      await fresh.close();
    }
  });
});

describe('pip and the cairn proxy command', () => {
  const skip = skipUnless(hasPythonBuildTools(), 'python3 with venv and pip (Debian python3-venv)');

  test('pip installs the trusted release through the proxy and cannot get the untrusted one', { skip }, async () => {
    const venv = createVenv(join(work, 'venv'));
    const index = `${running.url}/simple/`;
    const pip = (...args: string[]) => runCommand(venv.pip, ['install', '--index-url', index, ...args], { env: PIP_ENV });

    const install = await pip('proxy-demo');
    assert.equal(install.status, 0, install.output);
    const imported = await runCommand(venv.python, ['-c', 'import proxy_demo; print(proxy_demo.VERSION)']);
    assert.equal(imported.stdout.trim(), '1.0', imported.output);

    const pinned = await pip('proxy-demo==2.0');
    assert.notEqual(pinned.status, 0, pinned.output);
    assert.ok(pinned.output.includes(`Looking in indexes: ${index}`), pinned.output);
    assert.match(pinned.output, /No matching distribution found for proxy-demo==2\.0/);
    // Where pip's error sends the user: the proxy's project page names the reason.
    const page = await (await fetch(`${running.url}/project/proxy-demo/`)).text();
    assert.ok(page.includes(untrustedReason(files.get('proxy-demo==2.0')!.filename)));

    const none = await pip('proxy-none');
    assert.notEqual(none.status, 0, none.output);
    assert.match(none.output, /from versions: none/);
  });

  test('`cairn proxy` serves the filtered index and logs each hidden file with the page to read', async () => {
    const policyPath = join(work, 'cli-policy.toml');
    writeFileSync(policyPath, policyText());
    const child = spawn(process.execPath, [CAIRN_BIN, 'proxy', '--upstream', server.url, '--policy', policyPath, '--dev-trust', base, '--port', '0', '--cache-dir', join(work, 'cli-cache')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 30_000;
      let url: string | undefined;
      while (!url && Date.now() < deadline) {
        url = /cairn proxy listening on (http:\/\/\S+)/.exec(stdout)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(url, `no listening line:\n${stdout}\n${stderr}`);
      const page = (await (await fetch(`${url}/simple/proxy-demo/`, { headers: JSON_ACCEPT })).json()) as { files: { filename: string }[] };
      assert.deepEqual(page.files.map((f) => f.filename), [files.get('proxy-demo==1.0')!.filename]);
      const hiddenFile = files.get('proxy-demo==2.0')!.filename;
      assert.ok(stderr.includes(`cairn proxy: hid ${hiddenFile} (proxy-demo 2.0) [policy.untrusted_builder] ${untrustedReason(hiddenFile)} — see ${url}/project/proxy-demo/`), stderr);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('`cairn proxy` without an upstream is a usage error', async () => {
    const result = await runCommand(process.execPath, [CAIRN_BIN, 'proxy', '--policy', join(work, 'cli-policy.toml')], { env: { CAIRN_PROXY_UPSTREAM: '' } });
    assert.equal(result.status, 2, result.output);
    assert.match(result.output, /no upstream: give --upstream URL/);
  });
});
