import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnless } from './requirements.ts';

export const VARNISHD = '/usr/sbin/varnishd';

export function skipUnlessVarnish(): string | false {
  return skipUnless(spawnSync(VARNISHD, ['-V'], { stdio: 'ignore' }).status === 0, 'Varnish (apt-get install varnish)');
}

export interface Cache {
  url: string;
  stop(): Promise<void>;
}

/**
 * Varnish in front of one cairn, configured as a CDN edge would be for it: it keeps what
 * s-maxage allows, and a PURGE from loopback removes every variant of that URL (what cairn's
 * purge hook sends). Runs in the foreground, unjailed, everything under a temporary directory.
 */
export async function startVarnish(port: number, backend: string): Promise<Cache> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-varnish-'));
  const target = new URL(backend);
  writeFileSync(
    join(dir, 'cairn.vcl'),
    `vcl 4.1;
backend cairn { .host = "${target.hostname}"; .port = "${target.port}"; }
acl purgers { "127.0.0.1"; }
sub vcl_recv {
  if (req.method == "PURGE") {
    if (client.ip !~ purgers) { return (synth(405, "not allowed")); }
    return (purge);
  }
}
sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
`,
  );
  const child: ChildProcess = spawn(
    VARNISHD,
    ['-F', '-j', 'none', '-n', join(dir, 'work'), '-a', `127.0.0.1:${port}`, '-f', join(dir, 'cairn.vcl'), '-s', 'malloc,64m', '-T', 'none'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  // Any HTTP answer will do (a backend that is down gets a 503 from Varnish itself).
  while (!(await fetch(`${url}/healthz`).then(() => true, () => false))) {
    const failure = child.exitCode !== null ? 'exited' : Date.now() > deadline ? `did not answer at ${url}` : null;
    if (failure) {
      await stop();
      throw new Error(`varnishd ${failure}: ${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, stop };
}
