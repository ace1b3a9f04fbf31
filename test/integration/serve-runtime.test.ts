import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CAIRN_BIN } from '../support/commands.ts';

/**
 * How the launcher starts `cairn serve`: with V8's memory reducer off (its whole-heap compaction
 * after a busy spell stalled the event loop at 1M files; docs/benchmarks.md) and an old generation
 * of at least 256 MiB (a tight one kept full collections running every few seconds), in the
 * process that was started, so a supervisor's pid and signals still reach the server.
 */
const work = mkdtempSync(join(tmpdir(), 'cairn-serve-runtime-'));
after(() => rmSync(work, { recursive: true, force: true }));
const procfs = existsSync('/proc/self/cmdline');

/** Starts `node [nodeFlags] bin/cairn.mjs serve`, answers the command line its pid runs once it listens, then stops it. */
async function servingCommandLine(nodeFlags: string[], dataDir: string): Promise<string[]> {
  const child = spawn(process.execPath, [...nodeFlags, CAIRN_BIN, 'serve', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening: ${out}`)), 60_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (/listening on http/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
    });
    return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)));
  }
}

test('cairn serve runs with the memory reducer off, a 256 MiB old generation and a young one of at most 16 MiB, in the process that was started', { skip: procfs ? false : 'no /proc to read a command line from' }, async () => {
  const commandLine = await servingCommandLine([], join(work, 'plain'));
  assert.ok(commandLine.includes('--no-memory-reducer'), commandLine.join(' '));
  assert.ok(commandLine.includes('--initial-old-space-size=256'), commandLine.join(' '));
  assert.ok(commandLine.includes('--max-semi-space-size=16'), commandLine.join(' '));
  assert.deepEqual(commandLine.slice(-5), ['serve', '--port', '0', '--data-dir', join(work, 'plain')], 'the arguments are kept, in order');
});

test('node --memory-reducer bin/cairn.mjs serve keeps the reducer, and other Node flags stay', { skip: procfs ? false : 'no /proc to read a command line from' }, async () => {
  const commandLine = await servingCommandLine(['--memory-reducer', '--stack-trace-limit=20'], join(work, 'kept'));
  assert.ok(!commandLine.includes('--no-memory-reducer'), commandLine.join(' '));
  assert.ok(commandLine.includes('--memory-reducer') && commandLine.includes('--stack-trace-limit=20'), commandLine.join(' '));
  assert.ok(commandLine.includes('--initial-old-space-size=256'), 'the flag not given is still added');
});

test('an old-generation size given on the command line is used instead of 256 MiB', { skip: procfs ? false : 'no /proc to read a command line from' }, async () => {
  const commandLine = await servingCommandLine(['--initial-old-space-size=64'], join(work, 'sized'));
  assert.ok(commandLine.includes('--initial-old-space-size=64'), commandLine.join(' '));
  assert.ok(!commandLine.includes('--initial-old-space-size=256'), commandLine.join(' '));
  assert.ok(commandLine.includes('--max-semi-space-size=16'), 'the others are still added');
  assert.ok(commandLine.includes('--no-memory-reducer'), 'the other flag is still added');
});
