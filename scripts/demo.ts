/**
 * `npm run demo`: the whole flow on one machine, with the real tools, as the README walks it.
 * Starts the index with the dev trust domain, writes a small Python project into a local git
 * repository, registers the publishing workflow as a trusted publisher, runs `cairn build` (which
 * signs and submits provenance) and `cairn publish` (trusted publishing), writes a consumer
 * policy that trusts the builder, runs `cairn verify` with it, starts `cairn proxy` and prints a
 * pip command that installs through it (in a venv: Debian 12's Python refuses a system-wide
 * `pip install`, PEP 668). Flags: --exit (stop after printing), --try-install (run that pip
 * command too), --port N (the index; the proxy takes 8472 or a free port), --isolation (build in
 * an isolated environment; needs PyPI), --python PATH.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadServerConfig } from '../src/server/config.ts';
import { DEV_TRUST_PREFIX } from '../src/server/http/dev-trust-mount.ts';
import { startServer } from '../src/server/http/server.ts';
import { devIssuerToken } from '../src/client/oidc-credentials.ts';

const { values: flags } = parseArgs({
  options: {
    exit: { type: 'boolean', default: false },
    'try-install': { type: 'boolean', default: false },
    port: { type: 'string', default: process.env.CAIRN_PORT ?? '8470' },
    isolation: { type: 'boolean', default: false },
    python: { type: 'string', default: process.env.CAIRN_PYTHON ?? '/usr/bin/python3' },
  },
});

const ROOT = new URL('../', import.meta.url).pathname;
const REPOSITORY = 'demo-org/cairn-demo';
const CALLER_WORKFLOW = `${REPOSITORY}/.github/workflows/release.yml@refs/heads/main`;
const BUILDER_WORKFLOW = 'cairn-dev/builder/.github/workflows/cairn-build.yml@refs/tags/v1';

const CAIRN = join(ROOT, 'bin/cairn.mjs');
// Bold only on a terminal: escapes in a log file or a pipe are noise (NO_COLOR is honoured too).
const styled = process.stdout.isTTY === true && !process.env.NO_COLOR;
const step = (text: string) => console.log(styled ? `\n\u001b[1m==> ${text}\u001b[0m` : `\n==> ${text}`);

/** Prints a cairn command as a reader types it in the checkout (`npx cairn …`), then runs it. */
function cairn(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    console.log(`$ npx cairn ${args.join(' ')}`);
    const child = spawn(process.execPath, [CAIRN, ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cairn ${args[0]} exited with ${code}`))));
  });
}

function shell(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    console.log(`$ ${[command, ...args].join(' ')}`);
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

/** `cairn proxy` in a child process, as the reader would start it; resolves with its URL. */
function startProxy(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    console.log(`$ npx cairn proxy ${args.join(' ')} &`);
    const child = spawn(process.execPath, [CAIRN, 'proxy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
      const url = /cairn proxy listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url) resolve({ url, child });
    };
    child.stdout.on('data', collect);
    // The proxy logs each served or hidden file on stderr; shown once it listens, as a user would see it.
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(Object.assign(new Error(`cairn proxy exited with ${code}: ${out.trim()}`), { exitCode: code })));
  });
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@example.invalid', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@example.invalid' },
  }).trim();
}


const work = mkdtempSync(join(tmpdir(), 'cairn-demo-'));
const dataDir = join(work, 'data');
const server = await startServer(loadServerConfig({ dataDir, port: flags.port, devTrust: true }, {}), { logger: false }).catch(async (error: unknown) => {
  if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
  console.log(`port ${flags.port} is taken; using a free port`);
  return startServer(loadServerConfig({ dataDir, port: 0, devTrust: true }, {}), { logger: false });
});
const devBase = `${server.url}${DEV_TRUST_PREFIX}`;
let failed = false;
let proxy: { url: string; child: ChildProcess } | undefined;
try {
  step(`index with the dev trust domain at ${server.url} (data in ${dataDir})`);

  step('a small Python project in a local git repository');
  const repo = join(work, 'cairn-demo');
  mkdirSync(join(repo, 'src', 'cairn_demo'), { recursive: true });
  writeFileSync(
    join(repo, 'pyproject.toml'),
    '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "cairn-demo"\nversion = "1.0.0"\ndescription = "Built from a known commit, with provenance"\nreadme = "README.md"\nrequires-python = ">=3.8"\n\n[project.urls]\nSource = "https://github.com/demo-org/cairn-demo"\n\n[tool.setuptools.packages.find]\nwhere = ["src"]\n',
  );
  writeFileSync(join(repo, 'README.md'), '# cairn-demo\n\nA package whose **build provenance** says which commit it was built from, by which builder.\n');
  writeFileSync(join(repo, 'src', 'cairn_demo', '__init__.py'), 'def hello():\n    return "hello from a verified build"\n');
  git(repo, 'init', '--quiet', '--initial-branch=main');
  git(repo, 'add', '.');
  git(repo, 'commit', '--quiet', '-m', 'cairn demo');
  const commit = git(repo, 'rev-parse', 'HEAD');
  console.log(`repository ${repo} at ${commit}`);

  step('the maintainer registers the publishing workflow as a trusted publisher');
  await server.services.publishers.add({ project: 'cairn-demo', issuer: `${devBase}/oidc`, repository: REPOSITORY, workflow: 'release.yml' }, new Date());
  // In-process, since this script is the index: what the command below does against a running one.
  console.log(`project cairn-demo: publisher ${REPOSITORY} workflow release.yml (issuer ${devBase}/oidc)`);
  console.log(`  (by hand: npx cairn admin publisher add --project cairn-demo --issuer ${devBase}/oidc --repository ${REPOSITORY} --workflow release.yml)`);

  const cycleStart = performance.now();
  step('the builder: cairn build (clone, exact commit, build, sign, submit provenance)');
  const buildToken = join(work, 'build.jwt');
  writeFileSync(buildToken, (await devIssuerToken(devBase, { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, job_workflow_ref: BUILDER_WORKFLOW, sha: commit, ref: 'refs/heads/main' })).token);
  const dist = join(work, 'dist');
  await cairn([
    'build', '--repo', repo, '--commit', commit, '--source-uri', `https://github.com/${REPOSITORY}`,
    '--index', server.url, '--out', dist, '--oidc-token-file', buildToken, '--dev-trust', devBase, '--python', flags.python,
    ...(flags.isolation ? [] : ['--no-isolation']),
  ]);

  step('the publishing workflow: cairn publish (trusted publishing; the index binds the pending provenance)');
  const publishToken = join(work, 'publish.jwt');
  writeFileSync(publishToken, (await devIssuerToken(devBase, { repository: REPOSITORY, workflow_ref: CALLER_WORKFLOW, sha: commit, aud: 'cairn' })).token);
  const files = readdirSync(dist).filter((f) => f.endsWith('.whl') || f.endsWith('.tar.gz')).map((f) => join(dist, f));
  await cairn(['publish', '--index', server.url, '--oidc-token-file', publishToken, ...files]);
  const cycleSeconds = (performance.now() - cycleStart) / 1000;

  step('where to see it');
  for (const file of files.map((f) => f.split('/').pop()!)) {
    const url = `${server.url}/integrity/cairn-demo/1.0.0/${file}/provenance`;
    const provenance = (await (await fetch(url)).json()) as { attestation_bundles?: { cairn_verified?: Record<string, unknown>[] }[] };
    const facts = provenance.attestation_bundles?.flatMap((b) => b.cairn_verified ?? []) ?? [];
    if (facts.length === 0) throw new Error(`no provenance bound to ${file}`);
    for (const f of facts) {
      console.log(`${file}: built by ${String(f.build_signer_uri ?? f.identity)} from ${String(f.source_repository_uri)}@${String(f.source_repository_digest).slice(0, 12)}`);
    }
    console.log(`integrity API: ${url}`);
  }
  console.log(`web page:      ${server.url}/project/cairn-demo/1.0.0/`);
  console.log(`simple API:    ${server.url}/simple/cairn-demo/`);
  console.log(`\nbuild → submit → publish cycle: ${cycleSeconds.toFixed(1)} s`);

  step('a consumer trusts that builder, and only it: a policy, then cairn verify');
  const policy = join(work, 'cairn-policy.toml');
  writeFileSync(
    policy,
    `version = 1\n\n[defaults]\nrequire = "build"\n\n[[builders]]\nissuer = "${devBase}/oidc"\nidentity = "https://github.com/${BUILDER_WORKFLOW.replace(/@.*$/, '')}@refs/tags/v*"\n`,
  );
  console.log(`wrote ${policy}: require build provenance from https://github.com/${BUILDER_WORKFLOW.replace(/@.*$/, '')} at any v* tag`);
  await cairn(['verify', '--policy', policy, '--index', server.url, '--dev-trust', devBase, '--cache-dir', join(work, 'verify-cache'), 'cairn-demo==1.0.0']);

  step('the verifying proxy: pip installs only what the policy accepts');
  const proxyArgs = ['--upstream', server.url, '--policy', policy, '--dev-trust', devBase, '--cache-dir', join(work, 'proxy-cache'), '--quiet'];
  proxy = await startProxy([...proxyArgs, '--port', flags.port === '0' ? '0' : '8472']).catch((error: { exitCode?: number }) => {
    // 3: the port is taken (server.port_in_use); another one will do for a demo.
    if (error.exitCode !== 3 || flags.port === '0') throw error;
    console.log('port 8472 is taken; using a free port');
    return startProxy([...proxyArgs, '--port', '0']);
  });
  const listed = (await (await fetch(`${proxy.url}/simple/cairn-demo/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } })).json()) as { files?: { filename: string }[] };
  console.log(`the proxy lists ${(listed.files ?? []).map((f) => f.filename).join(', ') || 'no file'} (why: ${proxy.url}/project/cairn-demo/)`);
  // Debian 12's python3 refuses `pip install` outside a virtual environment (PEP 668).
  const venv = join(work, 'venv');
  const install = [
    `${flags.python} -m venv ${venv}`,
    `${venv}/bin/pip install --index-url ${proxy.url}/simple/ cairn-demo`,
    `${venv}/bin/python -c 'import cairn_demo; print(cairn_demo.hello())'`,
  ];
  console.log(`install through the proxy (in a venv, as Debian 12 requires):\n${install.map((line) => `  ${line}`).join('\n')}`);
  if (flags['try-install']) {
    step('running that install');
    await shell(flags.python, ['-m', 'venv', venv]);
    await shell(`${venv}/bin/pip`, ['install', '--disable-pip-version-check', '--no-cache-dir', '--index-url', `${proxy.url}/simple/`, 'cairn-demo']);
    await shell(`${venv}/bin/python`, ['-c', 'import cairn_demo; print(cairn_demo.hello())']);
  }
} catch (error) {
  failed = true;
  console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
}

const stop = async () => {
  proxy?.child.kill('SIGTERM');
  await server.close();
  rmSync(work, { recursive: true, force: true });
};
if (flags.exit || failed) {
  await stop();
  process.exit(failed ? 1 : 0);
}
console.log('\nthe index and the proxy keep running; Ctrl-C stops them and removes the demo data');
process.once('SIGINT', () => void stop().then(() => process.exit(0)));
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
