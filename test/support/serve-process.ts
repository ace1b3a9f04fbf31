import { spawn, type ChildProcess } from 'node:child_process';
import { CAIRN_BIN } from './commands.ts';

/** A `cairn serve` in its own process, as an operator runs it; its output is kept for assertions. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

export async function startServeProcess(args: string[], env: Record<string, string | undefined>): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CAIRN_BIN, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code, signal) => reject(Object.assign(new Error(`cairn serve exited (${code ?? signal}): ${out}`), { output: out, code })));
  });
  const gone = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  return {
    child,
    url,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
    },
  };
}

/** Runs `cairn serve` expecting it to fail at start-up; its exit code and output. */
export async function failingServe(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; output: string }> {
  try {
    const server = await startServeProcess(args, env);
    await server.stop();
    throw new Error(`cairn serve started at ${server.url} but was expected to fail`);
  } catch (error) {
    const e = error as { output?: string; code?: number | null };
    if (e.output === undefined) throw error;
    return { code: e.code ?? null, output: e.output };
  }
}
