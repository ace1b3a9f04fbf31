import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipUnless } from './requirements.ts';

/**
 * A throwaway S3 endpoint for the tests: Ceph's RADOS Gateway from Debian's packages on a
 * single-node cluster (one monitor, one memstore OSD, no manager), every daemon bound to
 * 127.0.0.1 and every file under one temporary directory. Or, when CAIRN_TEST_S3_ENDPOINT is set,
 * any S3-compatible endpoint given by the environment (credentials from AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY), which the tests then use instead.
 */
export interface S3Endpoint {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Milliseconds from the first command to a working endpoint (0 for an external one). */
  startMs: number;
  /** Resident memory of the cluster's daemons, in KiB (empty for an external one). */
  rss(): Record<string, number>;
  stop(): Promise<void>;
}

export const CEPH_BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool'];
const APT_HINT = 'apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common';

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
}

export function cephAvailable(): boolean {
  return CEPH_BINARIES.every(onPath);
}

/** False when an S3 endpoint can be had (external or RGW), else the skip reason (a failure under CAIRN_REQUIRE_ALL). */
export function skipUnlessS3(): string | false {
  if (process.env.CAIRN_TEST_S3_ENDPOINT) return false;
  return skipUnless(cephAvailable(), `Ceph RGW (${CEPH_BINARIES.join(', ')}: ${APT_HINT})`);
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function run(command: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, env: options.env });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

function rssKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** The external endpoint of CAIRN_TEST_S3_ENDPOINT, else a fresh RGW. */
export async function s3Endpoint(): Promise<S3Endpoint> {
  const external = process.env.CAIRN_TEST_S3_ENDPOINT;
  if (external) {
    return {
      endpoint: external,
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
      region: process.env.AWS_REGION ?? 'us-east-1',
      startMs: 0,
      rss: () => ({}),
      stop: async () => undefined,
    };
  }
  return await startRgw();
}

/**
 * Starts the cluster. The monitor proposes every 50 ms instead of batching for a second, which
 * takes start-up from ~13 s to ~4 s; RGW's garbage collector runs every 30 s because the memstore
 * OSD keeps deleted data in RAM until it does.
 */
export async function startRgw(options: { memstoreBytes?: number } = {}): Promise<S3Endpoint> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'cairn-rgw-'));
  const conf = join(dir, 'ceph.conf');
  const children: ChildProcess[] = [];
  const kill = () => {
    for (const child of children.reverse()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // A test runner that exits without calling stop() must not leave daemons behind.
  process.once('exit', kill);
  const stop = async () => {
    kill();
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((r) => child.once('exit', r)) : undefined)));
    process.removeListener('exit', kill);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const sub of ['mon.a', 'osd.0', 'run', 'log', 'rgw']) mkdirSync(join(dir, sub));
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = randomUUID();
    writeFileSync(conf, cephConf({ dir, fsid, monPort, rgwPort, memstoreBytes: options.memstoreBytes ?? 4 * 1024 ** 3 }));
    const env = { ...process.env, CEPH_CONF: conf };
    const keyring = join(dir, 'keyring');
    // Every key goes into the monitor's initial keyring: no `ceph auth add` round trips later.
    run('ceph-authtool', [keyring, '--create-keyring', '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    run('ceph-authtool', [keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']);
    run('ceph-authtool', [keyring, '--gen-key', '-n', 'osd.0', '--cap', 'mon', 'allow profile osd', '--cap', 'mgr', 'allow profile osd', '--cap', 'osd', 'allow *']);
    run('ceph-authtool', [keyring, '--gen-key', '-n', 'client.rgw.a', '--cap', 'mon', 'allow rw', '--cap', 'osd', 'allow rwx', '--cap', 'mgr', 'allow rw']);
    run('monmaptool', ['--create', '--clobber', '--fsid', fsid, '--enable-all-features', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir, 'monmap')]);
    run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', keyring]);
    const daemon = (name: string, command: string, args: string[]) => {
      const out = openSync(join(dir, 'log', `${name}.out`), 'a');
      children.push(spawn(command, args, { stdio: ['ignore', out, out], env }));
      closeSync(out);
    };
    daemon('mon', 'ceph-mon', ['-f', '-c', conf, '-i', 'a']);
    const osdUuid = randomUUID();
    const osdId = run('ceph', ['-c', conf, '--connect-timeout', '30', 'osd', 'new', osdUuid, '0'], { env }).trim();
    if (osdId !== '0') throw new Error(`ceph osd new gave id ${osdId}, expected 0`);
    run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], { env });
    daemon('osd', 'ceph-osd', ['-f', '-c', conf, '-i', '0']);
    const accessKeyId = randomBytes(10).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(20).toString('hex');
    // Blocks until the OSD is up and the pools RGW needs are active.
    run('radosgw-admin', ['-c', conf, 'user', 'create', '--uid=cairn-test', '--display-name=cairn-test', `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`], {
      env,
      timeoutMs: 120_000,
    });
    daemon('rgw', 'radosgw', ['-f', '-c', conf, '-n', 'client.rgw.a']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const answered = await fetch(`${endpoint}/`).then(() => true, () => false);
      if (answered) break;
      if (Date.now() > deadline) throw new Error(`radosgw did not answer at ${endpoint} within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const names = ['mon', 'osd', 'rgw'];
    return {
      endpoint,
      accessKeyId,
      secretAccessKey,
      region: 'us-east-1',
      startMs: Date.now() - started,
      rss: () => Object.fromEntries(children.map((child, i) => [names[i]!, rssKiB(child.pid ?? 0)])),
      stop,
    };
  } catch (error) {
    let logs = '';
    try {
      logs = spawnSync('sh', ['-c', `tail -n 15 ${dir}/log/*.log ${dir}/log/*.out 2>/dev/null`], { encoding: 'utf8' }).stdout;
    } catch {
      // the error itself is what matters
    }
    await stop();
    throw new Error(`starting Ceph RGW failed: ${(error as Error).message}\n${logs}`);
  }
}

function cephConf(o: { dir: string; fsid: string; monPort: number; rgwPort: number; memstoreBytes: number }): string {
  return `[global]
fsid = ${o.fsid}
mon host = v2:127.0.0.1:${o.monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
keyring = ${o.dir}/keyring
run dir = ${o.dir}/run
admin socket = ${o.dir}/run/$name.asok
pid file = ${o.dir}/run/$name.pid
log file = ${o.dir}/log/$name.log
log to stderr = false
err to stderr = false
mon cluster log file = ${o.dir}/log/cluster.log
crash dir = ${o.dir}/run
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.05

[mon]
mon data = ${o.dir}/mon.$id

[osd]
osd data = ${o.dir}/osd.$id
osd objectstore = memstore
memstore device bytes = ${o.memstoreBytes}
osd op num shards = 2
osd op num threads per shard = 1

[client.rgw.a]
rgw data = ${o.dir}/rgw
rgw frontends = beast endpoint=127.0.0.1:${o.rgwPort}
rgw thread pool size = 64
rgw gc obj min wait = 30
rgw gc processor period = 30
`;
}
