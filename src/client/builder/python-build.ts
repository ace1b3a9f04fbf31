import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CairnError } from '../../errors.ts';

const run = promisify(execFile);

export interface BuiltDistribution {
  path: string;
  filename: string;
  sha256: string;
  size: number;
}

export interface BuildTool {
  name: string;
  /** Empty when the builder cannot know it (an isolated environment resolves it at build time). */
  version: string;
  /** Package URL, when the tool is not a PyPI package. */
  uri?: string;
  /** The requirement as the project declares it, when no exact version is known. */
  requirement?: string;
}

/**
 * Runs the PyPA build frontend on a source tree: sdist and wheel, isolated by default (the build
 * backend comes from the index, pinned by the project). `--no-isolation` uses the backend already
 * installed next to the interpreter, for offline machines.
 */
export async function runPythonBuild(options: {
  python: string;
  sourceDir: string;
  outDir: string;
  isolation: boolean;
  onOutput?: (line: string) => void;
}): Promise<BuiltDistribution[]> {
  const args = ['-m', 'build', '--sdist', '--wheel', '--outdir', options.outDir];
  if (!options.isolation) args.push('--no-isolation', '--skip-dependency-check');
  args.push(options.sourceDir);
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(options.python, args, { cwd: options.sourceDir, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        output.push(line);
        options.onOutput?.(line);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => reject(new CairnError('build.failed', `cannot run ${options.python}: ${error.message}`)));
    child.on('close', resolve);
  });
  if (code !== 0) {
    throw new CairnError('build.failed', `python -m build exited with ${code}:\n${output.slice(-20).join('\n')}`);
  }
  const names = (await readdir(options.outDir)).filter((f) => f.endsWith('.whl') || f.endsWith('.tar.gz')).sort();
  if (names.length === 0) throw new CairnError('build.failed', 'the build produced no distributions');
  return Promise.all(names.map(async (filename) => {
    const path = join(options.outDir, filename);
    const { sha256, size } = await digestFile(path);
    return { path, filename, sha256, size };
  }));
}

export async function digestFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * The tools that shaped the build, recorded in `resolvedDependencies`. Under isolation the build
 * backend is installed into a fresh environment by the frontend, so the host's version would be
 * a guess: the declared requirement is recorded instead.
 */
export async function describeBuildTools(python: string, sourceDir: string, options: { isolation: boolean }): Promise<BuildTool[]> {
  const tools: BuildTool[] = [];
  try {
    const { stdout } = await run(python, ['-c', 'import sys, build; print(sys.version.split()[0]); print(build.__version__)']);
    const [pythonVersion = 'unknown', buildVersion = 'unknown'] = stdout.trim().split('\n');
    tools.push(
      { name: 'python', version: pythonVersion, uri: `pkg:generic/python@${pythonVersion}` },
      { name: 'build', version: buildVersion },
    );
  } catch {
    throw new CairnError('build.failed', `${python} cannot import the 'build' frontend; install python3-build (or pip install build)`);
  }
  let pyproject: string;
  try {
    pyproject = await readFile(join(sourceDir, 'pyproject.toml'), 'utf8');
  } catch {
    // A setup.py-only project has no pyproject.toml; the frontend falls back to setuptools.
    return tools;
  }
  const requires = /requires\s*=\s*\[([^\]]*)\]/.exec(pyproject)?.[1] ?? '';
  for (const requirement of requires.split(',').map((r) => r.trim().replace(/^["']|["']$/g, '')).filter(Boolean)) {
    const name = requirement.split(/[<>=!~ ;[]/)[0]!.trim();
    if (!name || tools.some((t) => t.name === name)) continue;
    const pinned = /^[^<>=!~]+==\s*([^\s;,]+)$/.exec(requirement)?.[1];
    let version = pinned ?? '';
    if (!version && !options.isolation) {
      const module = name.replace(/-/g, '_');
      version = await run(python, ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(module)}))`])
        .then(({ stdout }) => stdout.trim())
        .catch(() => '');
    }
    tools.push(version ? { name, version, ...(version !== requirement ? { requirement } : {}) } : { name, version: '', requirement });
  }
  return tools;
}
