import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON, type SerializedBundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';
import { compiledState } from '../bin/runtime.mjs';
import { parsePolicy } from '../src/policy/index.ts';
import { verifyDistribution, verifyTargets } from '../src/client/verify/index.ts';
import { mergeTrustedRoots, parseTrustedRoot, publicGoodTrustedRoot } from '../src/trust/trusted-roots.ts';
import { createAttestationVerifier } from '../src/trust/verify-attestation.ts';
import { makeDistribution } from '../test/support/dist-factory.ts';
import { DEFAULT_BUILDER_WORKFLOW, devTrustBase, signBuildProvenance, submitProvenance } from '../test/support/provenance.ts';
import { basicAuth, startTestServer } from '../test/support/server.ts';
import { uploadFile } from '../test/support/upload.ts';
import { VECTORS_DIR } from '../test/support/vectors.ts';

/**
 * Consumer verification benchmark (issues 5 and 13), all figures from one run:
 * (a) keyless bundle verifications per second on one core: cairn's verifier (cached CA paths and
 *     keys) next to plain `@sigstore/verify` `Verifier.verify` on the same bundles and roots;
 * (b) `verifyDistribution` called once per file as docs/library-api.md shows it, against the same
 *     call handed a new verifier each time (what it did before verifiers were shared);
 * (c) `cairn verify pylock.toml` of a 200-distribution lock with a warm cache, in-process and as
 *     the whole CLI process, and `cairn --help`: measured with hyperfine (whole processes) against
 *     bare `node -e 0` and against the same commands run from the TypeScript sources through tsx.
 * Bundles are real: signed through the dev trust domain of a loopback index, submitted and
 * bound by upload, then served by its integrity API.
 */
const ROOT = new URL('../', import.meta.url).pathname;
const DISTRIBUTIONS = Number(process.env.BENCH_VERIFY_DISTS ?? 200);
const PASSES = Number(process.env.BENCH_VERIFY_PASSES ?? 5);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface ProcessTiming {
  command: string;
  meanSeconds: number;
  stddevSeconds: number;
  minSeconds: number;
  maxSeconds: number;
  runs: number;
  tool: 'hyperfine' | 'spawnSync';
}

function hyperfineAvailable(): boolean {
  return spawnSync('hyperfine', ['--version'], { encoding: 'utf8' }).status === 0;
}

/**
 * Whole-process wall time of each command: hyperfine (`--shell=none`, warm-up runs first, so the
 * OS file cache and Node's compile cache are warm), or, where hyperfine is not installed, the
 * median of spawnSync runs.
 */
function timeProcesses(commands: { name: string; argv: string[]; env?: Record<string, string> }[], work: string, runs: number): Record<string, ProcessTiming> {
  const out: Record<string, ProcessTiming> = {};
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);
  for (const { name, argv, env } of commands) {
    const command = [...Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`), ...argv.map(quote)].join(' ');
    if (hyperfineAvailable()) {
      const json = join(work, `hyperfine-${name}.json`);
      const run = spawnSync('hyperfine', ['--shell=none', '--warmup', '3', '--runs', String(runs), '--export-json', json, argv.map(quote).join(' ')], { encoding: 'utf8', env: { ...process.env, ...env } });
      if (run.status !== 0) throw new Error(`hyperfine ${name} failed: ${run.stderr}`);
      const result = (JSON.parse(readFileSync(json, 'utf8')) as { results: { mean: number; stddev: number; min: number; max: number; times: number[] }[] }).results[0]!;
      out[name] = { command, meanSeconds: result.mean, stddevSeconds: result.stddev, minSeconds: result.min, maxSeconds: result.max, runs: result.times.length, tool: 'hyperfine' };
    } else {
      const times: number[] = [];
      for (let i = 0; i < runs + 3; i++) {
        const start = performance.now();
        const run = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
        if (run.status !== 0) throw new Error(`${name} exited ${run.status}: ${run.stderr}`);
        if (i >= 3) times.push((performance.now() - start) / 1000);
      }
      const sorted = [...times].sort((a, b) => a - b);
      const mean = times.reduce((a, b) => a + b, 0) / times.length;
      out[name] = { command, meanSeconds: sorted[Math.floor(sorted.length / 2)]!, stddevSeconds: Math.sqrt(times.reduce((a, t) => a + (t - mean) ** 2, 0) / times.length), minSeconds: sorted[0]!, maxSeconds: sorted.at(-1)!, runs: times.length, tool: 'spawnSync' };
    }
  }
  return out;
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

/** Median ops/s over passes of `fn` across all items (one core: this is synchronous work). */
function opsPerSecond<T>(items: T[], fn: (item: T) => void): number {
  for (const item of items.slice(0, 20)) fn(item); // warm up JIT and caches
  const rates: number[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const start = performance.now();
    for (const item of items) fn(item);
    rates.push(items.length / ((performance.now() - start) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
}

export async function runVerifyBench(): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), 'cairn-verify-bench-'));
  const server = await startTestServer('sqlite', { devTrust: true });
  try {
    const auth = basicAuth(await server.token('new_projects'));
    const projects = Math.ceil(DISTRIBUTIONS / 2);
    const specs = Array.from({ length: DISTRIBUTIONS }, (_, i) => ({ name: `bench-verify-${Math.floor(i / 2)}`, version: '1.0.0', kind: (i % 2 === 0 ? 'sdist' : 'wheel') as 'sdist' | 'wheel' }));
    const made = performance.now();
    const dists = specs.map((spec) => ({ spec, ...makeDistribution(work, spec) }));
    const makeSeconds = (performance.now() - made) / 1000;
    const bundles: { bundle: SerializedBundle; attestation: unknown; filename: string; sha256: string }[] = [];
    const signStarted = performance.now();
    const groups = new Map<string, typeof dists>();
    for (const d of dists) groups.set(d.spec.name, [...(groups.get(d.spec.name) ?? []), d]);
    // Files of one project go up one after the other (a release's files arrive that way from twine).
    await inBatches([...groups.values()], 8, async (group) => {
      for (const dist of group) await signAndUpload(dist);
    });
    async function signAndUpload(dist: (typeof dists)[number]): Promise<void> {
      const digest = sha256(dist.bytes);
      const signed = await signBuildProvenance(server, { filename: dist.filename, sha256: digest });
      const submitted = await submitProvenance(server, { filename: dist.filename, sha256: digest, attestations: [signed.attestation] });
      if (submitted.status !== 200) throw new Error(`submission refused: ${JSON.stringify(submitted.body)}`);
      const uploaded = await uploadFile(server.url, dist.path, auth);
      if (uploaded.status !== 200) throw new Error(`upload refused: ${JSON.stringify(uploaded.body)}`);
      bundles.push({ bundle: signed.bundle, attestation: signed.attestation, filename: dist.filename, sha256: digest });
    }
    const signSeconds = (performance.now() - signStarted) / 1000;

    const base = devTrustBase(server);
    const devRoot = parseTrustedRoot(await (await fetch(`${base}/trusted_root.json`)).json(), 'dev trust');
    const rootPath = join(work, 'trusted_root.json');
    writeFileSync(rootPath, JSON.stringify(devRoot));
    const roots = [publicGoodTrustedRoot(), devRoot];

    // (a) per-core verification rate, same bundles, same merged roots.
    const trust = toTrustMaterial(TrustedRoot.fromJSON(mergeTrustedRoots(roots)));
    const plain = new Verifier(trust);
    const plainRate = opsPerSecond(bundles, (b) => {
      plain.verify(toSignedEntity(bundleFromJSON(b.bundle)));
    });
    const cairnVerifier = createAttestationVerifier(roots);
    const cairnRate = opsPerSecond(bundles, (b) => {
      cairnVerifier.verify(b.attestation, { filename: b.filename, sha256: b.sha256 });
    });

    // Real-world: a PyPI publish attestation on the public-good instance, when the vectors are present.
    let realWorld: Record<string, number> | null = null;
    const vector = join(VECTORS_DIR, 'pypi-attestations/pypi_attestations-0.0.19.tar.gz.publish.attestation');
    try {
      const attestation = JSON.parse(readFileSync(vector, 'utf8')) as { envelope: { statement: string } };
      const statement = JSON.parse(Buffer.from(attestation.envelope.statement, 'base64').toString('utf8')) as { subject: { name: string; digest: { sha256: string } }[] };
      const ref = { filename: statement.subject[0]!.name, sha256: statement.subject[0]!.digest.sha256 };
      const { attestationToBundle, parseAttestation } = await import('../src/formats/pep740.ts');
      const bundle = attestationToBundle(parseAttestation(attestation));
      const pgPlain = new Verifier(toTrustMaterial(TrustedRoot.fromJSON(publicGoodTrustedRoot())));
      const pgCairn = createAttestationVerifier([publicGoodTrustedRoot()]);
      const items = Array.from({ length: 100 }, () => null);
      const p = opsPerSecond(items, () => pgPlain.verify(toSignedEntity(bundleFromJSON(bundle))));
      const c = opsPerSecond(items, () => pgCairn.verify(attestation, ref));
      realWorld = { plainPerSecond: Math.round(p), cairnPerSecond: Math.round(c), ratio: Number((c / p).toFixed(2)) };
    } catch {
      realWorld = null;
    }

    // (b) cairn verify of a pylock.toml with every distribution, warm cache.
    const lockPath = join(work, 'pylock.toml');
    const byProject = new Map<string, typeof dists>();
    for (const d of dists) byProject.set(d.spec.name, [...(byProject.get(d.spec.name) ?? []), d]);
    const lock = ['lock-version = "1.0"', 'created-by = "cairn-bench"', ''];
    for (const [name, files] of byProject) {
      lock.push('[[packages]]', `name = "${name}"`, 'version = "1.0.0"', `index = "${server.url}/simple"`);
      const sdist = files.find((f) => f.spec.kind === 'sdist');
      if (sdist) lock.push(`sdist = { url = "${server.url}/files/${sdist.filename}", hashes = { sha256 = "${sha256(sdist.bytes)}" } }`);
      const wheels = files.filter((f) => f.spec.kind === 'wheel');
      if (wheels.length > 0) lock.push(`wheels = [${wheels.map((w) => `{ url = "${server.url}/files/${w.filename}", hashes = { sha256 = "${sha256(w.bytes)}" } }`).join(', ')}]`);
      lock.push('');
    }
    writeFileSync(lockPath, lock.join('\n'));
    const policyText = `version = 1\n[defaults]\nrequire = "build"\n[[builders]]\nissuer = "${base}/oidc"\nidentity = "https://github.com/${DEFAULT_BUILDER_WORKFLOW.replace(/@.*$/, '')}@refs/tags/v*"\n`;
    const policyPath = join(work, 'policy.toml');
    writeFileSync(policyPath, policyText);
    const cacheDir = join(work, 'cache');
    const options = { policy: parsePolicy(policyText), trustedRoots: [devRoot], cacheDir, cacheTtlMs: 3_600_000 };

    const coldStart = performance.now();
    const cold = await verifyTargets([lockPath], options);
    const coldSeconds = (performance.now() - coldStart) / 1000;
    if (cold.exitCode !== 0) throw new Error(`cold verify failed: ${cold.results.find((r) => r.status !== 'pass')?.reason}`);

    const warmRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      const warm = await verifyTargets([lockPath], options);
      warmRuns.push((performance.now() - start) / 1000);
      if (warm.exitCode !== 0) throw new Error('warm verify failed');
    }

    // (b) the library call per file, as documented: shared verifier vs a new one per call. On the
    // real PyPI attestation (public-good root: a Fulcio intermediate to validate) when the vectors
    // are present, else on the dev-trust bundles.
    const realRequest = (() => {
      try {
        const attestation = JSON.parse(readFileSync(vector, 'utf8')) as { envelope: { statement: string } };
        const statement = JSON.parse(Buffer.from(attestation.envelope.statement, 'base64').toString('utf8')) as { subject: { name: string; digest: { sha256: string } }[] };
        return { filename: statement.subject[0]!.name, sha256: statement.subject[0]!.digest.sha256, attestations: [attestation] };
      } catch {
        return null;
      }
    })();
    const requests = realRequest ? Array.from({ length: 100 }, () => realRequest) : bundles.slice(0, 100).map((b) => ({ filename: b.filename, sha256: b.sha256, attestations: [b.attestation] }));
    const libraryPolicy = realRequest
      ? parsePolicy('version = 1\n[defaults]\nrequire = "publish"\n[[publishers]]\nissuer = "https://token.actions.githubusercontent.com"\nrepository = "trailofbits/pypi-attestations"\nworkflow = "release.yml"\n')
      : parsePolicy(policyText);
    const libraryRoots = realRequest ? [] : [devRoot];
    const libraryOptions = { policy: libraryPolicy, trustedRoots: libraryRoots, offline: true, cacheDir, history: 0 };
    const freshVerifier = () => createAttestationVerifier([publicGoodTrustedRoot(), ...libraryRoots]);
    const perCall = async (fresh: boolean) => {
      for (const request of requests.slice(0, 10)) await verifyDistribution(request, fresh ? { ...libraryOptions, verifier: freshVerifier() } : libraryOptions);
      const start = performance.now();
      for (const request of requests) {
        const result = await verifyDistribution(request, fresh ? { ...libraryOptions, verifier: freshVerifier() } : libraryOptions);
        if (result.status !== 'pass') throw new Error(`verifyDistribution: ${result.reason}`);
      }
      return requests.length / ((performance.now() - start) / 1000);
    };
    const libraryFresh = await perCall(true);
    const libraryShared = await perCall(false);

    // (c) whole processes: the compiled CLI, the same from the sources through tsx, bare Node.
    const bin = join(ROOT, 'bin/cairn.mjs');
    if (!compiledState().current) {
      const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { encoding: 'utf8' });
      if (built.status !== 0) throw new Error(`npm run build failed: ${built.stderr}`);
    }
    const verifyArgs = ['verify', lockPath, '--policy', policyPath, '--trusted-root', rootPath, '--cache-dir', cacheDir, '--cache-ttl', '3600', '--json'];
    const check = spawnSync(process.execPath, [bin, ...verifyArgs], { encoding: 'utf8', env: { ...process.env, CAIRN_RUN_FROM: 'compiled' } });
    if (check.status !== 0) throw new Error(`cairn verify (compiled) exited ${check.status}: ${check.stderr}`);
    const processes = timeProcesses(
      [
        { name: 'bareNode', argv: [process.execPath, '-e', '0'] },
        { name: 'helpCompiled', argv: [process.execPath, bin, '--help'], env: { CAIRN_RUN_FROM: 'compiled' } },
        { name: 'helpSources', argv: [process.execPath, bin, '--help'], env: { CAIRN_RUN_FROM: 'sources' } },
        { name: 'verifyWarmCompiled', argv: [process.execPath, bin, ...verifyArgs], env: { CAIRN_RUN_FROM: 'compiled' } },
        { name: 'verifyWarmSources', argv: [process.execPath, bin, ...verifyArgs], env: { CAIRN_RUN_FROM: 'sources' } },
      ],
      work,
      Number(process.env.BENCH_STARTUP_RUNS ?? 10),
    );

    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      distributions: DISTRIBUTIONS,
      projects,
      cores: cpus().length,
      makeDistributionsSeconds: Number(makeSeconds.toFixed(1)),
      signAndUploadSeconds: Number(signSeconds.toFixed(1)),
      verificationsPerSecondPerCore: { plainSigstoreVerify: Math.round(plainRate), cairn: Math.round(cairnRate), ratio: Number((cairnRate / plainRate).toFixed(2)) },
      realWorldPublicGood: realWorld,
      pylockColdSeconds: Number(coldSeconds.toFixed(2)),
      pylockWarmSecondsInProcess: Number(median(warmRuns).toFixed(3)),
      libraryVerifyDistributionPerSecond: { on: realRequest ? 'real PyPI attestation, public-good root' : 'dev trust bundles', newVerifierPerCall: Math.round(libraryFresh), sharedVerifier: Math.round(libraryShared), ratio: Number((libraryShared / libraryFresh).toFixed(2)) },
      processes,
      goalHelpUnder300ms: processes.helpCompiled!.meanSeconds <= 0.3,
      goalWarmVerifyUnder500ms: processes.verifyWarmCompiled!.meanSeconds <= 0.5,
      goalRatioAtLeast2: cairnRate / plainRate >= 2,
    };
  } finally {
    await server.stop();
    if (process.env.BENCH_KEEP_WORK) console.error(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  console.log(JSON.stringify(await runVerifyBench(), null, 2));
}
