import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCommand } from '../support/commands.ts';
import { hasPythonBuildTools, skipUnless } from '../support/requirements.ts';

/**
 * `npm run demo` as a newcomer runs it: the whole flow — build, publish, a policy, cairn verify,
 * the verifying proxy — ending with the pip command it printed, run as printed (a venv, as
 * Debian 12 requires) through the proxy.
 */
const skip = skipUnless(hasPythonBuildTools(), 'Debian python3-build, python3-setuptools and python3-venv');

test('npm run demo builds, publishes, verifies, serves through the proxy and installs', { skip, timeout: 300_000 }, async () => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = await runCommand(npm, ['run', '--silent', 'demo', '--', '--exit', '--port', '0', '--try-install'], { cwd: new URL('../../', import.meta.url).pathname, timeoutMs: 280_000 });
  assert.equal(result.status, 0, result.output);
  const out = result.stdout;
  const bound = out.match(/: built by https:\/\/github\.com\/cairn-dev\/builder\/\.github\/workflows\/cairn-build\.yml@refs\/tags\/v1 from https:\/\/github\.com\/demo-org\/cairn-demo@[0-9a-f]{12}/g) ?? [];
  assert.equal(bound.length, 2, out);
  assert.match(out, /build → submit → publish cycle: \d+\.\d s/);
  // Commands as a reader types them in the checkout, never the launcher's path.
  for (const command of ['build', 'publish', 'verify', 'proxy']) assert.match(out, new RegExp(`^\\$ npx cairn ${command} `, 'm'));
  assert.doesNotMatch(result.output, /bin\/cairn\.mjs/);
  // Piped, not a terminal: no escape sequences.
  assert.ok(!result.output.includes('\u001b['), 'an escape sequence in piped output');
  // The policy trusts the builder: cairn verify passes (the demo stops at the first failing step).
  assert.match(out, /cairn_demo-1\.0\.0-py3-none-any\.whl +build .*PASS/);
  assert.match(out, /dev trust domain — not for production/);
  const listed = /^the proxy lists (.+) \(why: /m.exec(out)?.[1]?.split(', ') ?? [];
  assert.deepEqual(listed.map((f) => f.replace(/^cairn[-_]demo-1\.0\.0/, '')).sort(), ['-py3-none-any.whl', '.tar.gz'], out);
  const venvLine = /^ {2}(\S+) -m venv (\S+)$/m.exec(out);
  assert.ok(venvLine, out);
  assert.match(out, new RegExp(`^ {2}${venvLine[2]}/bin/pip install --index-url http://127\\.0\\.0\\.1:\\d+/simple/ cairn-demo$`, 'm'));
  // --try-install ran the printed commands: installed through the proxy, and it imports.
  assert.match(out, /Successfully installed cairn-demo-1\.0\.0/);
  assert.match(out, /^hello from a verified build$/m);
});
