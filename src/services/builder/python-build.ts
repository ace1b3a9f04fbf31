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
  version: string;
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

/** The tools that shaped the build, recorded in `resolvedDependencies`. */
export async function describeBuildTools(python: string, sourceDir: string): Promise<BuildTool[]> {
  const tools: BuildTool[] = [];
  try {
    const { stdout } = await run(python, ['-c', 'import sys, build; print(sys.version.split()[0]); print(build.__version__)']);
    const [pythonVersion, buildVersion] = stdout.trim().split('\n');
    tools.push({ name: 'python', version: pythonVersion ?? 'unknown' }, { name: 'build', version: buildVersion ?? 'unknown' });
  } catch {
    throw new CairnError('build.failed', `${python} cannot import the 'build' frontend; install python3-build (or pip install build)`);
  }
  try {
    const pyproject = await readFile(join(sourceDir, 'pyproject.toml'), 'utf8');
    const backend = /build-backend\s*=\s*"([^"]+)"/.exec(pyproject)?.[1];
    const requires = /requires\s*=\s*\[([^\]]*)\]/.exec(pyproject)?.[1] ?? '';
    if (backend) {
      const backendModule = backend.split('.')[0]!;
      const { stdout } = await run(python, ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(backendModule)}))`]).catch(() => ({ stdout: 'unresolved' }));
      tools.push({ name: backendModule, version: stdout.trim() });
    }
    for (const requirement of requires.split(',').map((r) => r.trim().replace(/^"|"$/g, '')).filter(Boolean)) {
      if (!tools.some((t) => requirement.startsWith(t.name))) tools.push({ name: requirement.split(/[<>=!~ ;[]/)[0]!, version: requirement });
    }
  } catch {
    // A setup.py-only project has no pyproject.toml; the frontend falls back to setuptools.
  }
  return tools;
}
