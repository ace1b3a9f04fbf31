import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isCairnError } from '../../src/errors.ts';
import { renderProjectHtml, renderProjectJson, SIMPLE_HTML, SIMPLE_JSON } from '../../src/formats/simple-api.ts';
import { CacheSink, digestCheckedChunks } from '../../src/client/proxy/checked-stream.ts';
import { formatProxyEvent, renderProxyProjectPage, simpleProjectOf, type ProxyFileEntry, type ProxyProjectView } from '../../src/client/proxy/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'cairn-proxy-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function* source(chunks: Buffer[]): AsyncGenerator<Buffer> {
  for (const c of chunks) yield c;
}

async function drain(gen: AsyncGenerator<Buffer>): Promise<{ received: Buffer[]; error: unknown }> {
  const received: Buffer[] = [];
  try {
    for await (const chunk of gen) received.push(chunk);
    return { received, error: null };
  } catch (error) {
    return { received, error };
  }
}

describe('digest-checked streaming', () => {
  const chunks = [Buffer.from('first '), Buffer.from('second '), Buffer.from('last')];
  const whole = Buffer.concat(chunks);

  test('passes every chunk through and caches the file when the digest matches', async () => {
    const target = join(dir, 'ok', 'file');
    const { received, error } = await drain(digestCheckedChunks(source(chunks), sha(whole), 'f', new CacheSink(target)));
    assert.equal(error, null);
    assert.deepEqual(Buffer.concat(received), whole);
    assert.deepEqual(readFileSync(target), whole);
    assert.deepEqual(readdirSync(join(dir, 'ok')), ['file'], 'no temp file left');
  });

  test('holds back the last chunk and throws verify.digest_mismatch instead when the bytes differ; nothing is cached', async () => {
    const target = join(dir, 'bad', 'file');
    const { received, error } = await drain(digestCheckedChunks(source(chunks), sha(Buffer.from('other')), 'f', new CacheSink(target)));
    assert.ok(isCairnError(error) && error.code === 'verify.digest_mismatch', String(error));
    assert.deepEqual(Buffer.concat(received), Buffer.from('first second '), 'everything but the last chunk');
    assert.equal(existsSync(target), false);
    assert.deepEqual(readdirSync(join(dir, 'bad')), [], 'the temp file is removed');
  });

  test('a one-chunk file sends nothing before the check', async () => {
    const { received, error } = await drain(digestCheckedChunks(source([whole]), sha(Buffer.from('x')), 'f', null));
    assert.ok(isCairnError(error));
    assert.deepEqual(received, []);
  });

  test('a consumer that stops early leaves no cache entry', async () => {
    const target = join(dir, 'early', 'file');
    const gen = digestCheckedChunks(source(chunks), sha(whole), 'f', new CacheSink(target));
    await gen.next();
    await gen.next();
    await gen.return(undefined);
    assert.equal(existsSync(target), false);
    assert.deepEqual(readdirSync(join(dir, 'early')), []);
  });
});

function entry(overrides: Partial<ProxyFileEntry>): ProxyFileEntry {
  return {
    filename: 'demo-1.0-py3-none-any.whl',
    version: '1.0',
    sha256: 'a'.repeat(64),
    upstreamUrl: 'https://upstream.example/files/demo-1.0-py3-none-any.whl',
    provenanceUrl: 'https://upstream.example/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance',
    requiresPython: '>=3.8',
    yanked: false,
    size: 10,
    uploadTime: '2026-01-01T00:00:00Z',
    status: 'listed',
    code: null,
    reason: 'trusted',
    result: null,
    ...overrides,
  };
}

function view(files: ProxyFileEntry[], name = 'Demo'): ProxyProjectView {
  return { name, project: 'demo', upstreamPageUrl: 'https://upstream.example/simple/demo/', checkedAt: '2026-01-01T00:00:00Z', files };
}

describe('proxy simple pages', () => {
  const listed = entry({});
  const hidden = entry({ filename: 'demo-2.0-py3-none-any.whl', version: '2.0', sha256: 'b'.repeat(64), status: 'hidden', code: 'policy.untrusted_builder', reason: 'untrusted' });

  test('only listed files, with URLs relative to /simple/{project}/ and no core metadata', () => {
    const simple = simpleProjectOf(view([listed, hidden]));
    assert.deepEqual(simple.versions, ['1.0']);
    assert.equal(simple.files.length, 1);
    const [file] = simple.files;
    assert.equal(file!.url, `../../files/demo/${'a'.repeat(64)}/demo-1.0-py3-none-any.whl`);
    assert.equal(new URL(file!.url, 'http://proxy/simple/demo/').pathname, `/files/demo/${'a'.repeat(64)}/demo-1.0-py3-none-any.whl`);
    assert.equal(new URL(file!.provenanceUrl!, 'http://proxy/simple/demo/').pathname, '/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance');
    assert.equal(file!.coreMetadataSha256, null);
  });

  test('HTML carries a visible note with the link to the reasons when files are hidden, none when all pass', () => {
    const page = renderProxyProjectPage(view([listed, hidden]), SIMPLE_HTML);
    assert.match(page, /<p class="cairn-proxy-note">cairn proxy: 1 of 2 upstream files of Demo are hidden because they do not pass the policy\. Why: <a href="\.\.\/\.\.\/project\/demo\/">\/project\/demo\/<\/a><\/p>\n {2}<\/body>/);
    assert.doesNotMatch(page, /demo-2\.0/);
    assert.doesNotMatch(renderProxyProjectPage(view([listed]), SIMPLE_HTML), /cairn-proxy-note/);
    const none = renderProxyProjectPage(view([hidden], '<b>Demo</b>'), SIMPLE_HTML);
    assert.match(none, /none of the 1 upstream files of &lt;b&gt;Demo&lt;\/b&gt; passes the policy/);
    assert.doesNotMatch(none, /<b>/);
  });

  test('JSON adds the private _cairn-proxy key (PEP 691 reserves leading underscores)', () => {
    const body = JSON.parse(renderProxyProjectPage(view([listed, hidden]), SIMPLE_JSON)) as Record<string, unknown> & { files: unknown[] };
    assert.equal(body.files.length, 1);
    assert.deepEqual(body['_cairn-proxy'], { upstream: 'https://upstream.example/simple/demo/', hidden: 1, total: 2, details: '../../project/demo/' });
  });

  test('the shared renderers leave out what an upstream did not say', () => {
    const simple = { name: 'demo', versions: ['1.0'], files: [{ ...simpleProjectOf(view([listed])).files[0]!, size: null, uploadTime: null }] };
    const json = JSON.parse(renderProjectJson(simple)) as { files: Record<string, unknown>[] };
    assert.equal(json.files[0]!['core-metadata'], false);
    assert.equal('size' in json.files[0]!, false);
    assert.equal('upload-time' in json.files[0]!, false);
    assert.doesNotMatch(renderProjectHtml(simple), /data-core-metadata|data-dist-info-metadata/);
  });

  test('log lines point to the project page', () => {
    assert.equal(formatProxyEvent({ type: 'hidden_more', project: 'demo', count: 3 }, 'http://127.0.0.1:8472/'), 'cairn proxy: hid 3 more file(s) of demo — see http://127.0.0.1:8472/project/demo/');
  });
});
