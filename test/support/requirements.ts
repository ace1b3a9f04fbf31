import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** Under CAIRN_REQUIRE_ALL=1 (set by .ci/run) a missing tool is a failure, never a skip. */
export const REQUIRE_ALL = process.env.CAIRN_REQUIRE_ALL === '1';

/**
 * Returns false when the requirement holds, else the skip reason (printed loudly). Under
 * REQUIRE_ALL it throws, failing the test file.
 */
export function skipUnless(available: boolean, what: string): string | false {
  if (available) return false;
  const message = `MISSING REQUIREMENT: ${what} — these tests are SKIPPED (.ci/run installs it; CAIRN_REQUIRE_ALL=1 makes this a failure)`;
  if (REQUIRE_ALL) throw new Error(message);
  console.warn(`\n*** ${message} ***\n`);
  return message;
}

export const SYSTEM_PYTHON = '/usr/bin/python3';
export const TWINE = '/usr/bin/twine';

function pythonHas(modules: string[]): boolean {
  if (!existsSync(SYSTEM_PYTHON)) return false;
  return spawnSync(SYSTEM_PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore' }).status === 0;
}

export function hasPythonBuildTools(): boolean {
  return pythonHas(['build', 'setuptools', 'venv', 'ensurepip']) && existsSync(TWINE);
}

export function hasHatchling(): boolean {
  return pythonHas(['hatchling']);
}

/** Debian's wheels of setuptools and wheel (python3-setuptools-whl, python3-wheel-whl): what an isolated build installs. */
export const DEBIAN_WHEELS = '/usr/share/python-wheels';

export function debianBuildWheels(): string[] | null {
  if (!existsSync(DEBIAN_WHEELS)) return null;
  const files = readdirSync(DEBIAN_WHEELS);
  const pick = (name: string) => files.find((f) => f.startsWith(`${name}-`) && f.endsWith('.whl'));
  const wanted = [pick('setuptools'), pick('wheel')];
  return wanted.every(Boolean) ? wanted.map((f) => `${DEBIAN_WHEELS}/${f}`) : null;
}
