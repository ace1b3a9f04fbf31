import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { loadPolicy } from '../client/load-policy.ts';
import { verdictFieldsJson } from '../policy/verdict-json.ts';
import { attestationReportJson } from '../client/verify/report-json.ts';
import { defaultCacheDir, loadExtraRoots, VerifyCache, verifyTargets, type DistributionResult, type VerifyRun } from '../client/verify/index.ts';
import { parseIndexOption } from '../client/index-client.ts';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { devIssuerToken, obtainOidcToken } from '../client/oidc-credentials.ts';
import { signStatement } from '../client/signing.ts';
import { writeVerificationSummaries, type VsaOutcome } from '../client/verify/vsa.ts';
import { CairnError, isCairnError } from '../errors.ts';
import { CAIRN_VERIFIER_ID } from '../formats/vsa.ts';
import { signingEndpoints } from './sigstore-options.ts';
import { policyPath } from './policy.ts';

interface VerifyFlags {
  policy?: string;
  index?: string;
  attestation: string[];
  trustedRoot: string[];
  devTrust?: string;
  requirement: string[];
  json?: boolean;
  offline?: boolean;
  cacheDir?: string;
  cacheTtl: string;
  lockIdentities?: boolean;
  jobs: string;
  history: string;
  download?: boolean;
  wide?: boolean;
  explain?: boolean;
  vsa?: string;
  vsaVerifierId: string;
  oidcTokenFile?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function positiveInt(value: string, flag: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CairnError('usage.invalid_argument', `${flag} must be an integer ≥ ${min}, got ${value}`);
  return n;
}

/** Middle ellipsis: both the start (host, owner) and the end (workflow, ref) of an identity matter. */
function fit(value: string, width: number, wide: boolean): string {
  if (wide || value.length <= width) return value;
  const keep = width - 1;
  return `${value.slice(0, Math.ceil(keep / 2))}…${value.slice(value.length - Math.floor(keep / 2))}`;
}

function shortCommit(commit: string | undefined | null): string {
  return commit ? commit.slice(0, 12) : '';
}

function row(r: DistributionResult): Record<string, string> {
  const v = r.verdict;
  const firstVerified = r.attestations.find((a) => a.verified);
  const source = v?.sourceRepository ?? firstVerified?.sourceRepository ?? '';
  const commit = v?.sourceCommit ?? firstVerified?.sourceCommit ?? '';
  return {
    file: r.filename,
    kind: v?.kind ?? firstVerified?.kind ?? '-',
    signer: v?.signer?.identity ?? firstVerified?.identity ?? '-',
    builder: v?.builder ?? firstVerified?.builder ?? '-',
    source: source ? `${source}${commit ? `@${shortCommit(commit)}` : ''}` : '-',
    verdict: r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'ERROR',
    reason: r.status === 'pass' ? r.reason : `[${r.code}] ${r.reason}`,
  };
}

const COLUMNS: { key: string; title: string; width: number }[] = [
  { key: 'file', title: 'FILE', width: 44 },
  { key: 'kind', title: 'KIND', width: 7 },
  { key: 'signer', title: 'SIGNER', width: 48 },
  { key: 'builder', title: 'BUILDER', width: 48 },
  { key: 'source', title: 'SOURCE', width: 48 },
  { key: 'verdict', title: 'VERDICT', width: 7 },
  { key: 'reason', title: 'REASON', width: Infinity },
];

export function renderTable(results: DistributionResult[], wide = false): string {
  const rows = results.map(row);
  const widths = COLUMNS.map((c) => (c.width === Infinity ? 0 : Math.max(c.title.length, ...rows.map((r) => fit(r[c.key]!, c.width, wide).length))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(COLUMNS.map((c) => c.title))];
  for (const r of rows) out.push(line(COLUMNS.map((c) => (c.width === Infinity ? r[c.key]! : fit(r[c.key]!, c.width, wide)))));
  const warnings = results.flatMap((r) => r.warnings.map((w) => `  ! ${r.filename}: ${w}`));
  if (warnings.length > 0) out.push('', 'warnings:', ...warnings);
  const passed = results.filter((r) => r.status === 'pass').length;
  const failed = results.filter((r) => r.status === 'fail').length;
  const errors = results.length - passed - failed;
  out.push('', `${results.length} file(s): ${passed} passed, ${failed} failed${errors ? `, ${errors} not checked (errors)` : ''}`);
  return out.join('\n');
}

/**
 * `--explain`: for each file, every policy entry tried against every attestation of the required
 * kind, and why it matched or the first condition that did not hold; then the project status and
 * the verdict.
 */
export function renderExplanation(results: DistributionResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${r.filename}:`);
    const v = r.verdict;
    if (!v) {
      out.push(`  not evaluated: [${r.code}] ${r.reason}`);
      continue;
    }
    out.push(`  require = "${v.required}"`);
    const verifiedFacts = r.attestations.filter((a) => a.verified);
    if (v.ruleChecks.length === 0) out.push('  no policy entry was tried (no verified attestation of the required kind, or nothing is required)');
    let last = -1;
    for (const check of v.ruleChecks) {
      if (check.attestationIndex !== last) {
        const a = verifiedFacts[check.attestationIndex];
        out.push(`  attestation ${check.attestationIndex}: ${a?.kind ?? '?'} signed by ${a?.identity ?? '?'}`);
        last = check.attestationIndex;
      }
      out.push(`    ${check.rule}${check.line !== undefined ? ` (line ${check.line})` : ''}: ${check.matched ? 'matched' : 'no'} — ${check.reason}`);
    }
    if (v.projectStatus) out.push(`  project status (PEP 792): ${v.projectStatus.status}${v.projectStatus.reason ? ` (${v.projectStatus.reason})` : ''}`);
    out.push(`  verdict: ${r.status === 'pass' ? 'PASS' : `FAIL [${r.code}]`} ${r.reason}`);
  }
  return out.join('\n');
}

/**
 * `--vsa DIR`: signs one VSA per passing file with the verifier's own keyless identity (the CI's
 * OIDC credential, or the dev issuer with --dev-trust), naming the policy file by digest.
 */
async function writeSummaries(results: DistributionResult[], flags: VerifyFlags, policyFile: string): Promise<VsaOutcome[]> {
  const policyPathAbsolute = resolvePath(policyFile);
  // The credential is asked for once, and only when some file passed: nothing is signed otherwise.
  let credential: Promise<{ token: string }> | undefined;
  const signingToken = () =>
    (credential ??= obtainOidcToken({ tokenFile: flags.oidcTokenFile, audience: 'sigstore' }).catch((error: unknown) => {
      if (!flags.devTrust || flags.oidcTokenFile || !isCairnError(error) || error.code !== 'usage.invalid_argument') throw error;
      return devIssuerToken(flags.devTrust, { repository: DEV_VERIFIER_REPOSITORY, workflow_ref: `${DEV_VERIFIER_REPOSITORY}/.github/workflows/verify.yml@refs/heads/main`, sha: '0'.repeat(40), aud: 'sigstore' });
    }));
  const endpoints = signingEndpoints({ devTrust: flags.devTrust, fulcioUrl: flags.fulcioUrl, rekorUrl: flags.rekorUrl });
  return writeVerificationSummaries(results, {
    dir: flags.vsa!,
    verifier: { id: flags.vsaVerifierId, version: { cairn: cairnVersion() } },
    policy: { uri: pathToFileURL(policyPathAbsolute).href, digest: { sha256: createHash('sha256').update(readFileSync(policyPathAbsolute)).digest('hex') } },
    sign: async (statement) => signStatement(statement, (await signingToken()).token, endpoints),
    now: () => new Date(),
  });
}

/** The repository the dev issuer certifies for a verifier run on a developer machine. */
const DEV_VERIFIER_REPOSITORY = 'cairn-dev/verifier';

function cairnVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export const DEV_TRUST_WARNING = 'dev trust domain — not for production';

/**
 * Flags every file whose accepted provenance was certified by the dev trust domain named with
 * `--dev-trust`: that domain issues a certificate for any identity it is asked for, so a PASS it
 * vouches for says nothing about who really built the file. The identities look like GitHub's.
 */
export function markDevTrust(results: DistributionResult[], devTrustBase: string | undefined): void {
  if (!devTrustBase) return;
  const base = `${devTrustBase.replace(/\/+$/, '')}/`;
  for (const r of results) {
    if (r.attestations.some((a) => a.verified && a.issuer?.startsWith(base))) {
      r.warnings.unshift(`${DEV_TRUST_WARNING}: signed through the dev trust domain at ${base}, which certifies any identity it is asked for`);
    }
  }
}

/** The `--json` document; docs/verify-json.md is its schema. */
export function verifyJson(run: VerifyRun, policySource: string): Record<string, unknown> {
  const passed = run.results.filter((r) => r.status === 'pass').length;
  const failed = run.results.filter((r) => r.status === 'fail').length;
  return {
    version: 1,
    policy: policySource,
    exit_code: run.exitCode,
    summary: { total: run.results.length, passed, failed, errors: run.results.length - passed - failed },
    files: run.results.map((r) => {
      const v = r.verdict;
      return {
        filename: r.filename,
        project: r.project,
        version: r.version,
        origin: r.origin,
        sha256: r.sha256,
        status: r.status,
        code: r.code ?? null,
        reason: r.reason,
        required: v?.required ?? null,
        ...verdictFieldsJson(v),
        continuity: v
          ? { status: v.continuity.status, current: v.continuity.current, previous: v.continuity.previous, message: v.continuity.message ?? null }
          : null,
        identities: r.identities,
        warnings: r.warnings,
        attestations: r.attestations.map((a) => attestationReportJson(a, { full: true })),
      };
    }),
    lock_updates: run.lockUpdates,
  };
}

export function registerVerify(program: Command): void {
  program
    .command('verify [targets...]')
    .description('verify distributions and their provenance against your trust policy (TARGET: file, name==version, requirements.txt, pylock.toml)')
    .option('--policy <file>', 'the trust policy (env CAIRN_POLICY; default ./cairn-policy.toml)')
    .option('--index <url>', 'index base URL serving PEP 691 JSON and the PEP 740 integrity API (env CAIRN_INDEX_URL)')
    .option('--attestation <file>', 'PEP 740 attestation, provenance object or Sigstore bundle for a local file (repeatable)', collect, [])
    .option('--trusted-root <file|url>', 'an extra Sigstore trusted_root.json (repeatable; the public-good root is always trusted)', collect, [])
    .option('--dev-trust <base>', 'also trust the dev trust domain at BASE (its BASE/trusted_root.json)')
    .option('-r, --requirement <file>', 'a pinned requirements file, with or without --hash (repeatable)', collect, [])
    .option('--json', 'print the results as JSON (schema: docs/verify-json.md)')
    .option('--offline', 'use only the cache and local files, no network')
    .option('--cache-dir <dir>', 'cache for index pages, provenance, roots and files (env CAIRN_CACHE_DIR)')
    .option('--cache-ttl <seconds>', 'how long cached pages and provenance stay fresh online', '600')
    .option('--lock-identities', 'write the accepted signers into each pylock.toml package as attestation-identities')
    .option('--download', 'download files whose sha256 a lock file or --hash pins, to re-check what the index serves')
    .option('--jobs <n>', 'concurrent downloads', '8')
    .option('--history <n>', 'earlier releases compared for identity continuity (0: off)', '1')
    .option('--wide', 'do not shorten table cells on a terminal')
    .option('--explain', 'after the table, show for each file which policy entry matched, or why each one failed')
    .option('--vsa <dir>', 'write a signed SLSA Verification Summary Attestation (Sigstore bundle) per file that passed into DIR')
    .option('--vsa-verifier-id <uri>', 'the verifier id the VSAs name', CAIRN_VERIFIER_ID)
    .option('--oidc-token-file <file>', 'OIDC token to sign the VSAs with (default: the CI ambient credential; with --dev-trust, the dev issuer)')
    .option('--fulcio-url <url>', 'certificate authority for signing VSAs (env CAIRN_FULCIO_URL; default public-good, or BASE/fulcio with --dev-trust)')
    .option('--rekor-url <url>', 'transparency log for signing VSAs (env CAIRN_REKOR_URL; default public-good, or BASE/rekor with --dev-trust)')
    .action(async (targets: string[], flags: VerifyFlags) => {
      const policyFile = policyPath(flags.policy);
      const policy = loadPolicy(policyFile, { as: 'path' });
      const cacheDir = flags.cacheDir ?? defaultCacheDir();
      const offline = flags.offline === true;
      const envRoots = process.env.CAIRN_TRUSTED_ROOT ? process.env.CAIRN_TRUSTED_ROOT.split(',').filter(Boolean) : [];
      const rootSources = [...envRoots, ...flags.trustedRoot, ...(flags.devTrust ? [`${flags.devTrust.replace(/\/+$/, '')}/trusted_root.json`] : [])];
      const trustedRoots = await loadExtraRoots(rootSources, { cache: new VerifyCache(cacheDir), offline });

      const bar = process.stderr.isTTY ? new SingleBar({ stream: process.stderr, format: 'verifying [{bar}] {value}/{total} {file}', hideCursor: true, clearOnComplete: true }) : null;
      let started = false;
      const run = await verifyTargets(targets, {
        policy,
        trustedRoots,
        cacheDir,
        offline,
        cacheTtlMs: positiveInt(flags.cacheTtl, '--cache-ttl', 0) * 1000,
        concurrency: positiveInt(flags.jobs, '--jobs'),
        history: positiveInt(flags.history, '--history', 0),
        ...(flags.index ?? process.env.CAIRN_INDEX_URL ? { index: parseIndexOption((flags.index ?? process.env.CAIRN_INDEX_URL)!) } : {}),
        attestationFiles: flags.attestation,
        requirementFiles: flags.requirement,
        download: flags.download === true,
        lockIdentities: flags.lockIdentities === true,
        onProgress: (done, total, file) => {
          if (!bar) return;
          if (!started) {
            bar.start(total, 0, { file: '' });
            started = true;
          }
          bar.update(done, { file });
        },
      }).finally(() => bar?.stop());
      markDevTrust(run.results, flags.devTrust);
      const summaries = flags.vsa ? await writeSummaries(run.results, flags, policyFile) : [];

      if (flags.json) {
        const document = verifyJson(run, policy.source);
        if (flags.vsa) document.vsa = summaries.map((s) => ('path' in s ? { filename: s.filename, path: s.path, code: null } : { filename: s.filename, path: null, code: s.code, message: s.message }));
        process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      } else {
        // Shortened cells are for a terminal; piped output keeps every value whole for grep and logs.
        console.log(renderTable(run.results, flags.wide === true || !process.stdout.isTTY));
        if (flags.explain) console.log(`\n${renderExplanation(run.results)}`);
        for (const update of run.lockUpdates) console.log(`wrote attestation-identities for ${update.packages.length} package(s) into ${update.path}`);
        for (const s of summaries) if ('path' in s) console.log(`wrote verification summary ${s.path}`);
      }
      for (const s of summaries) if (!('path' in s)) console.error(`cairn: ${s.code}: ${s.message}`);
      process.exitCode = run.exitCode;
    });
}
