import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYSTEM_PYTHON } from './requirements.ts';

/**
 * Writes a small Python project. `backend` picks Debian's setuptools or hatchling so both build
 * backends are exercised; `dependsOn` adds a runtime dependency on another sample.
 */
export function writeSampleProject(
  root: string,
  options: { name: string; version: string; module: string; backend: 'setuptools' | 'hatchling'; dependsOn?: string; summary?: string; description?: string },
): string {
  const dir = join(root, `${options.name}-${options.version}`);
  mkdirSync(join(dir, 'src', options.module), { recursive: true });
  const deps = options.dependsOn ? `dependencies = ["${options.dependsOn}"]\n` : '';
  const buildSystem =
    options.backend === 'setuptools'
      ? '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
      : '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n';
  const packages =
    options.backend === 'setuptools'
      ? `[tool.setuptools.packages.find]\nwhere = ["src"]\n`
      : `[tool.hatch.build.targets.wheel]\npackages = ["src/${options.module}"]\n`;
  writeFileSync(
    join(dir, 'pyproject.toml'),
    `${buildSystem}\n[project]\nname = "${options.name}"\nversion = "${options.version}"\ndescription = ${JSON.stringify(options.summary ?? `The ${options.name} sample`)}\nreadme = "README.md"\nrequires-python = ">=3.8"\n${deps}\n[project.urls]\nHomepage = "https://example.invalid/${options.name}"\n\n${packages}`,
  );
  writeFileSync(join(dir, 'README.md'), options.description ?? `# ${options.name}\n\nA sample project for cairn's tests.\n`);
  writeFileSync(
    join(dir, 'src', options.module, '__init__.py'),
    `VERSION = "${options.version}"\n\ndef hello():\n    return "hello from ${options.name}"\n`,
  );
  return dir;
}

/** Runs Debian's `python3 -m build --no-isolation` (offline) and returns the built files. */
export function buildDistributions(projectDir: string, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const result = spawnSync(SYSTEM_PYTHON, ['-m', 'build', '--no-isolation', '--skip-dependency-check', '--outdir', outDir, projectDir], {
    encoding: 'utf8',
    env: { ...process.env, PIP_NO_INDEX: '1' },
  });
  if (result.status !== 0) throw new Error(`python -m build failed:\n${result.stdout}\n${result.stderr}`);
  return readdirSync(outDir).map((f) => join(outDir, f));
}

export function createVenv(dir: string): { python: string; pip: string } {
  execFileSync(SYSTEM_PYTHON, ['-m', 'venv', dir], { stdio: 'pipe' });
  return { python: join(dir, 'bin', 'python'), pip: join(dir, 'bin', 'pip') };
}

export const PIP_ENV = {
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  PIP_NO_CACHE_DIR: '1',
  PIP_NO_INPUT: '1',
  // The machine's own pip configuration (extra indexes, find-links) must not answer for the index under test.
  PIP_CONFIG_FILE: '/dev/null',
  PIP_FIND_LINKS: '',
  PIP_EXTRA_INDEX_URL: '',
};
