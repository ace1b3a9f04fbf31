import { spawn } from 'node:child_process';

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertion messages. */
  output: string;
}

/**
 * Runs a program without blocking the event loop. Tests start the index in their own process, so
 * `spawnSync` of a client (twine, pip, the cairn CLI) would freeze the server it talks to.
 */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, output: `${stdout}\n${stderr}` });
    });
    child.stdin.end(options.input ?? '');
  });
}

export const CAIRN_BIN = new URL('../../bin/cairn.mjs', import.meta.url).pathname;

/** The cairn CLI as a user runs it (`npx cairn …`), in a child process. */
export function runCairn(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [CAIRN_BIN, ...args], options);
}
