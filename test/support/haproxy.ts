import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './rgw.ts';
import { skipUnless } from './requirements.ts';

export const HAPROXY = '/usr/sbin/haproxy';

export function skipUnlessHaproxy(): string | false {
  return skipUnless(spawnSync(HAPROXY, ['-v'], { stdio: 'ignore' }).status === 0, 'HAProxy (apt-get install haproxy)');
}

export interface Balancer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * HAProxy in front of cairn instances, round robin, as an operator would run it: a health check
 * on /healthz takes a dead instance out within a second, and a request whose connection to an
 * instance fails is sent to another (`retry-on conn-failure` + `redispatch`); one that reached an
 * instance is never sent twice (an upload is not idempotent).
 */
export async function startHaproxy(backends: readonly string[]): Promise<Balancer> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-haproxy-'));
  const port = await freePort();
  const servers = backends.map((url, i) => `  server cairn${i} ${new URL(url).host} check inter 300 fall 2 rise 1`).join('\n');
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    `global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 3
  option redispatch
  retry-on conn-failure empty-response
frontend cairn
  bind 127.0.0.1:${port}
  default_backend instances
backend instances
  balance roundrobin
  option httpchk GET /healthz
  http-response set-header X-Cairn-Backend %s
${servers}
`,
  );
  const child = spawn(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${err}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not answer at ${url}: ${err}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
