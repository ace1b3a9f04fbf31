import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { CairnError } from '../../errors.ts';
import { bundleToAttestation } from '../../formats/pep740.ts';
import { isCommitDigest } from '../../formats/digests.ts';
import { buildProvenanceStatement } from '../../formats/slsa-provenance.ts';
import { peekClaims } from '../oidc-credentials.ts';
import { signStatement, type SigstoreEndpoints } from '../signing.ts';
import { submitProvenance } from '../index-client.ts';
import { assertCleanTree, checkoutExactCommit } from './source-checkout.ts';
import { choosePython, DEFAULT_PYTHON_CANDIDATES, describeBuildTools, runPythonBuild, type BuiltDistribution, type PythonCandidate } from './python-build.ts';

export interface BuildRequest {
  repository: string;
  commit: string;
  /** The repository URL to record when `repository` is a local path or mirror (must be https). */
  sourceUri?: string;
  subdir?: string;
  /** Where the distributions go, and nothing else: `twine upload OUT/*` must work (see provenanceOutDir). */
  outDir: string;
  /** Where each distribution's Sigstore bundle and PEP 740 attestation go; default `<outDir>-provenance`. */
  provenanceOutDir?: string;
  /** Index base URL; without it nothing is submitted. */
  index?: string;
  oidcToken: string;
  endpoints: SigstoreEndpoints;
  isolation: boolean;
  /** The interpreter named by the user (`--python`, CAIRN_PYTHON); without one, the first default that has `build`. */
  python?: PythonCandidate;
  clock?: () => Date;
  progress?: (step: string) => void;
}

/**
 * The sibling folder of the distributions' folder that holds what was signed about them: twine
 * (Debian 12 ships 4.0.2) refuses every file in `dist/*` that is not a distribution or a `.asc`
 * signature, so a bundle next to the wheel would break the habitual `twine upload dist/*`.
 */
export function defaultProvenanceOutDir(outDir: string): string {
  const out = resolve(outDir);
  return join(dirname(out), `${basename(out)}-provenance`);
}

export interface BuildResult {
  distributions: (BuiltDistribution & { bundlePath: string; attestationPath: string; submitted: string | null })[];
  /** The interpreter that ran the build. */
  python: string;
  builderId: string;
  invocationId: string;
}

function claimString(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The builder (DESIGN §1 step 2–3): exact-commit checkout, isolated build, one SLSA v1 statement per
 * distribution, keyless signing, and submission of each to the index before the files leave.
 */
export async function buildAndSubmit(request: BuildRequest): Promise<BuildResult> {
  const clock = request.clock ?? (() => new Date());
  const progress = request.progress ?? (() => undefined);
  const claims = peekClaims(request.oidcToken);
  const vouched = claimString(claims, 'sha') ?? claimString(claims, 'ci_commit_sha');
  if (!vouched) throw new CairnError('build.commit_mismatch', 'the OIDC token carries no commit (`sha` claim): it cannot vouch for what is built');
  if (!isCommitDigest(request.commit)) {
    throw new CairnError('build.bad_commit', `--commit must be a full 40- or 64-hex commit SHA, got '${request.commit}'`);
  }
  if (vouched !== request.commit) {
    throw new CairnError('build.commit_mismatch', `asked to build ${request.commit} but the CI identity vouches for ${vouched}`);
  }
  const sourceUri = request.sourceUri ?? request.repository;
  if (!/^https:\/\/\S+$/.test(sourceUri)) {
    throw new CairnError('usage.invalid_argument', `the recorded source repository must be an https URL; pass --source-uri for the local path ${request.repository}`);
  }
  const jobWorkflowRef = claimString(claims, 'job_workflow_ref');
  const builderId = jobWorkflowRef
    ? `https://github.com/${jobWorkflowRef}`
    : (claimString(claims, 'ci_config_ref_uri') ? `https://${claimString(claims, 'ci_config_ref_uri')}` : `${String(claims.iss)}#${String(claims.sub)}`);
  const repositoryClaim = claimString(claims, 'repository');
  const runId = claimString(claims, 'run_id');
  const invocationId =
    process.env.GITHUB_SERVER_URL && process.env.GITHUB_REPOSITORY && process.env.GITHUB_RUN_ID
      ? `${process.env.GITHUB_SERVER_URL}/${process.env.GITHUB_REPOSITORY}/actions/runs/${process.env.GITHUB_RUN_ID}/attempts/${process.env.GITHUB_RUN_ATTEMPT ?? '1'}`
      : process.env.CI_JOB_URL ??
        (repositoryClaim && runId
          ? `${repositoryClaim.startsWith('https://') ? repositoryClaim : `https://github.com/${repositoryClaim}`}/actions/runs/${runId}/attempts/${claimString(claims, 'run_attempt') ?? '1'}`
          : `urn:cairn:local-build:${clock().toISOString()}`);

  // A missing frontend is found before anything is cloned or signed.
  const interpreter = await choosePython(request.python ? [request.python] : DEFAULT_PYTHON_CANDIDATES, { named: request.python !== undefined });
  for (const skipped of interpreter.skipped) progress(`skipped ${skipped}`);
  progress(`python: ${interpreter.executable} (Python ${interpreter.pythonVersion}, build ${interpreter.buildVersion})${request.python ? '' : '; choose another with --python PATH or CAIRN_PYTHON'}`);
  const provenanceOutDir = request.provenanceOutDir ?? defaultProvenanceOutDir(request.outDir);

  const work = await mkdtemp(join(tmpdir(), 'cairn-build-'));
  try {
    const checkout = join(work, 'source');
    progress(`cloning ${request.repository} at ${request.commit}`);
    await checkoutExactCommit(request.repository, request.commit, checkout);
    const sourceDir = request.subdir ? resolve(checkout, request.subdir) : checkout;
    if (sourceDir !== checkout && !sourceDir.startsWith(`${checkout}${sep}`)) {
      throw new CairnError('usage.invalid_argument', `--subdir must name a directory inside the repository, got '${request.subdir}'`);
    }
    const tools = await describeBuildTools(interpreter, sourceDir, { isolation: request.isolation });
    progress(`building sdist and wheel (${request.isolation ? 'isolated' : 'no isolation'})`);
    const startedOn = clock();
    const built = await runPythonBuild({ python: interpreter.python, sourceDir, outDir: join(work, 'dist'), isolation: request.isolation });
    const finishedOn = clock();
    await assertCleanTree(checkout, 'after the build');

    await mkdir(request.outDir, { recursive: true });
    await mkdir(provenanceOutDir, { recursive: true });
    const results: BuildResult['distributions'] = [];
    for (const dist of built) {
      progress(`signing provenance for ${dist.filename} (sha256 ${dist.sha256.slice(0, 12)}…)`);
      const statement = buildProvenanceStatement({
        filename: dist.filename,
        sha256: dist.sha256,
        source: { repository: sourceUri, commit: request.commit, ...(claimString(claims, 'ref') ? { ref: claimString(claims, 'ref')! } : {}), ...(request.subdir ? { path: request.subdir } : {}) },
        tools,
        builderId,
        invocationId,
        startedOn,
        finishedOn,
      });
      const bundle = await signStatement(statement, request.oidcToken, request.endpoints);
      const attestation = bundleToAttestation(bundle);
      const target = join(request.outDir, dist.filename);
      await copyFile(dist.path, target);
      const bundlePath = join(provenanceOutDir, `${dist.filename}.sigstore.json`);
      const attestationPath = join(provenanceOutDir, `${dist.filename}.provenance.attestation`);
      await writeFile(bundlePath, JSON.stringify(bundle, null, 2));
      await writeFile(attestationPath, JSON.stringify(attestation, null, 2));
      let submitted: string | null = null;
      if (request.index) {
        progress(`submitting provenance for ${dist.filename} to ${request.index}`);
        const answer = await submitProvenance(request.index, { filename: dist.filename, sha256: dist.sha256, attestations: [attestation] });
        submitted = answer.status;
        progress(`  ${answer.status}${answer.expires_at ? `, expires ${answer.expires_at}` : ''}`);
      }
      results.push({ ...dist, path: target, bundlePath, attestationPath, submitted });
    }
    return { distributions: results, python: interpreter.executable, builderId, invocationId };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
