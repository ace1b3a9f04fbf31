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

/** An interpreter that can run the PyPA `build` frontend, as it reported itself. */
export interface PythonInterpreter {
  /** What was asked for (`python3`, a path). */
  python: string;
  /** `sys.executable`: the file that actually runs, after PATH lookup and shims. */
  executable: string;
  pythonVersion: string;
  buildVersion: string;
}

/** Where an interpreter to try came from, for messages (`--python`, `CAIRN_PYTHON`, `PATH`). */
export interface PythonCandidate {
  python: string;
  from: string;
}

/**
 * Interpreters tried when none is named: the first `python3` on PATH (a pyenv or venv one, if
 * the user set it up so), then Debian's `/usr/bin/python3` (python3-build), then `python`.
 */
export const DEFAULT_PYTHON_CANDIDATES: readonly PythonCandidate[] = [
  { python: 'python3', from: 'PATH' },
  { python: '/usr/bin/python3', from: 'the system Python' },
  { python: 'python', from: 'PATH' },
];

const PROBE = 'import sys; print(sys.executable); print(sys.version.split()[0]); import build; print(build.__version__)';

/** Runs the interpreter once: what it is and whether it has `build`; the reason when it cannot serve. */
export async function probePython(python: string): Promise<PythonInterpreter | { problem: string }> {
  try {
    const { stdout } = await run(python, ['-c', PROBE], { timeout: 30_000 });
    const [executable = python, pythonVersion = 'unknown', buildVersion = 'unknown'] = stdout.trim().split('\n');
    return { python, executable, pythonVersion, buildVersion };
  } catch (error) {
    const failure = error as { code?: unknown; stdout?: string; stderr?: string; message: string };
    if (failure.code === 'ENOENT') return { problem: 'not found' };
    if (failure.code === 'EACCES') return { problem: 'not executable' };
    // The probe prints the interpreter before importing `build`: a shim (pyenv) names what it ran.
    const [executable, version] = (failure.stdout ?? '').trim().split('\n');
    const lastLine = (failure.stderr ?? '').trim().split('\n').at(-1) || failure.message;
    const runs = executable ? `runs ${executable}${version ? ` (Python ${version})` : ''}, which` : 'it';
    return { problem: /No module named ['"]?build/.test(lastLine) ? `${runs} has no \`build\` module` : `${runs} failed: ${lastLine}` };
  }
}

/**
 * Picks the interpreter that runs `python -m build`: the one named (by `--python` or
 * CAIRN_PYTHON), which must have `build`, or else the first default candidate that has it. A
 * missing frontend is a missing tool (exit 2), reported with every interpreter tried and how to
 * choose another, before anything is cloned.
 */
export async function choosePython(candidates: readonly PythonCandidate[], options: { named: boolean }): Promise<PythonInterpreter & { skipped: string[] }> {
  const skipped: string[] = [];
  for (const candidate of candidates) {
    const probed = await probePython(candidate.python);
    if (!('problem' in probed)) return { ...probed, skipped };
    skipped.push(`${candidate.python} (${candidate.from}): ${probed.problem}`);
  }
  const install = 'install the frontend for it (Debian: apt install python3-build; elsewhere: PYTHON -m pip install build)';
  const message = options.named
    ? `cannot build with ${skipped.join('; ')}. Either ${install}, or name an interpreter that has it with --python PATH (or CAIRN_PYTHON=PATH)`
    : `no Python with the PyPA \`build\` frontend: tried ${skipped.join('; ')}. Name one with --python PATH (or CAIRN_PYTHON=PATH), or ${install}`;
  throw new CairnError('build.tool_missing', message, { tried: skipped });
}

/**
 * The tools that shaped the build, recorded in `resolvedDependencies`. Under isolation the build
 * backend is installed into a fresh environment by the frontend, so the host's version would be
 * a guess: the declared requirement is recorded instead.
 */
export async function describeBuildTools(interpreter: PythonInterpreter, sourceDir: string, options: { isolation: boolean }): Promise<BuildTool[]> {
  const python = interpreter.python;
  const tools: BuildTool[] = [
    { name: 'python', version: interpreter.pythonVersion, uri: `pkg:generic/python@${interpreter.pythonVersion}` },
    { name: 'build', version: interpreter.buildVersion },
  ];
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
