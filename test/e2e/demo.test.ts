import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCommand } from '../support/commands.ts';
import { hasPythonBuildTools, skipUnless } from '../support/requirements.ts';

/** `npm run demo` as a newcomer runs it: the whole flow, ending with provenance bound to both files. */
const skip = skipUnless(hasPythonBuildTools(), 'Debian python3-build, python3-setuptools and python3-venv');

test('npm run demo builds, submits, publishes and shows the bound provenance', { skip, timeout: 240_000 }, async () => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = await runCommand(npm, ['run', '--silent', 'demo', '--', '--exit', '--port', '0'], { cwd: new URL('../../', import.meta.url).pathname });
  assert.equal(result.status, 0, result.output);
  const bound = result.stdout.match(/: built by https:\/\/github\.com\/cairn-dev\/builder\/\.github\/workflows\/cairn-build\.yml@refs\/tags\/v1 from https:\/\/github\.com\/demo-org\/cairn-demo@[0-9a-f]{12}/g) ?? [];
  assert.equal(bound.length, 2, result.stdout);
  assert.match(result.stdout, /build → submit → publish cycle: \d+\.\d s/);
});
