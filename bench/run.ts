import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { runIndexBench } from './index-bench.ts';
import { runProvenanceBench } from './provenance-bench.ts';
import { runVerifyBench, type ProcessTiming } from './verify-bench.ts';

/**
 * `npm run bench`: every figure is a ratio against a baseline measured in the same run, and the
 * report lands in docs/benchmarks.md with the command that produced it. `npm run bench -- NAME…`
 * runs only the named sections (index, scale, scale-out, provenance, verify, ui, import).
 */
const only = new Set(process.argv.slice(2));
const wanted = (name: string) => only.size === 0 || only.has(name);
const sections: string[] = [];
const started = new Date();

if (wanted('index')) {
  const index = await runIndexBench();
  sections.push(
    '## Upload (issue 2)',
    '',
    ...index.lines,
    '',
    `Goal: upload ≥ 0.70 of hash+write (${index.ratios.upload.toFixed(2)}; a bare node:http receiver reaches ${index.ratios.uploadFloorSha256.toFixed(2)} doing only sha256+write+fsync, ${index.ratios.uploadFloorDigests.toFixed(2)} computing the three digests).`,
    '',
  );
}

if (wanted('scale')) {
  const { runScaleBench } = await import('./scale-bench.ts');
  const scale = await runScaleBench();
  sections.push(
    '## Reads at scale (issue 10)',
    '',
    ...scale.lines,
    '',
    'Goals: random project pages ≥ 0.6× bare node:http at every size on both engines; root time to last byte ≤ 2× bare node:http serving the same bytes; TUF refresh after one upload ≤ 200 ms at 1M files; no event-loop stall > 50 ms; small-wheel upload p50 ≤ 50 ms and server RSS ≤ 1 GiB at 1M files.',
    '',
    '```json',
    JSON.stringify(scale.rows, null, 2),
    '```',
    '',
  );
}

if (wanted('scale-out')) {
  const { runScaleOutBench } = await import('./scale-out-bench.ts');
  const scaleOut = await runScaleOutBench();
  sections.push(
    '## Scale-out: several instances, S3 (issue 12)',
    '',
    ...scaleOut.lines,
    '',
    `Goals: three instances behind the balancer reported against one in the same run (${scaleOut.figures.threeOverOne}×), with the balancer's per-request overhead; a 100 MiB upload through S3 at ≥ 0.5× the file system store's speed (${scaleOut.figures.upload100MiB.ratio}×).`,
    '',
    '```json',
    JSON.stringify(scaleOut.figures, null, 2),
    '```',
    '',
  );
}

if (wanted('provenance')) {
  const provenance = await runProvenanceBench();
  sections.push('## Build-provenance submissions (issue 4)', '', ...provenance.lines, '');
}

if (wanted('verify')) {
  const verify = await runVerifyBench();
  const v = verify as unknown as {
    verificationsPerSecondPerCore: { plainSigstoreVerify: number; cairn: number; ratio: number };
    realWorldPublicGood: { plainPerSecond: number; cairnPerSecond: number; ratio: number } | null;
    libraryVerifyDistributionPerSecond: { on: string; newVerifierPerCall: number; sharedVerifier: number; ratio: number };
    pylockWarmSecondsInProcess: number;
    pylockColdSeconds: number;
    distributions: number;
    processes: Record<string, ProcessTiming>;
  };
  const p = v.processes;
  const ms = (t: ProcessTiming) => `${(t.meanSeconds * 1000).toFixed(0)} ± ${(t.stddevSeconds * 1000).toFixed(0)} ms`;
  const row = (label: string, t: ProcessTiming, baseline?: ProcessTiming) => `| ${label} | \`${t.command.replace(/\S*\/(bin\/cairn\.mjs)/, '$1').replace(process.execPath, 'node').replace(/\/tmp\/\S+\//g, '…/')}\` | ${ms(t)} | ${baseline ? (baseline.meanSeconds / t.meanSeconds).toFixed(1) + '×' : '—'} |`;
  sections.push(
    '## Verification (issues 3, 5 and 13)',
    '',
    `Produced by \`npm run bench -- verify\` on ${started.toISOString().slice(0, 10)} (${process.platform}, Node ${process.version}, ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} at the end: other work shared the cores); whole-process times by ${p.helpCompiled!.tool}${p.helpCompiled!.tool === 'hyperfine' ? ' (`--shell=none --warmup 3`)' : ''}, ${p.helpCompiled!.runs} runs each.`,
    '',
    '| measure | plain @sigstore/verify | cairn | ratio |',
    '|---|---|---|---|',
    `| keyless bundle verifications per second, one core (dev trust domain bundles) | ${v.verificationsPerSecondPerCore.plainSigstoreVerify} | ${v.verificationsPerSecondPerCore.cairn} | ${v.verificationsPerSecondPerCore.ratio} |`,
    ...(v.realWorldPublicGood ? [`| the same for a real PyPI publish attestation (public-good root) | ${v.realWorldPublicGood.plainPerSecond} | ${v.realWorldPublicGood.cairnPerSecond} | ${v.realWorldPublicGood.ratio} |`] : []),
    '',
    `\`verifyDistribution\` once per file as docs/library-api.md shows it (${v.libraryVerifyDistributionPerSecond.on}): ${v.libraryVerifyDistributionPerSecond.sharedVerifier} files/s with the shared verifier, ${v.libraryVerifyDistributionPerSecond.newVerifierPerCall} files/s when each call builds its own (${v.libraryVerifyDistributionPerSecond.ratio}×).`,
    '',
    `Start-up and a warm \`cairn verify\` of a ${v.distributions}-distribution pylock.toml (whole processes; the ratio is the speed-up over the row it names):`,
    '',
    '| process | command | wall time | speed-up |',
    '|---|---|---|---|',
    row('bare Node (floor)', p.bareNode!),
    row('`cairn --help`, from the sources through tsx', p.helpSources!),
    row('`cairn --help`, compiled (goal ≤ 300 ms)', p.helpCompiled!, p.helpSources),
    row('warm `cairn verify pylock.toml`, from the sources through tsx', p.verifyWarmSources!),
    row('warm `cairn verify pylock.toml`, compiled (goal ≤ 500 ms)', p.verifyWarmCompiled!, p.verifyWarmSources),
    '',
    `In-process, the same warm verification takes ${v.pylockWarmSecondsInProcess} s; the cold one (empty cache, everything fetched from the index) ${v.pylockColdSeconds} s.`,
    '',
    '```json',
    JSON.stringify(verify, null, 2),
    '```',
    '',
  );
}

if (wanted('ui')) {
  const { runUiBench } = await import('./ui-bench.ts');
  const ui = await runUiBench();
  sections.push('## Web UI render times (issue 6)', '', ...(ui.lines as string[]), '', `Goal: project and release pages p95 < 50 ms server time — met: ${String(ui.goalMet)}.`, '');
}

if (wanted('import')) {
  const { runImportBench } = await import('./import-bench.ts');
  const imported = await runImportBench();
  sections.push('## Bulk import (issue 10)', '', ...imported.lines, '', 'Goal: ≥ 2,000 files/s on SQLite (docs/import.md says what the rate depends on).', '');
}

const target = new URL('../docs/benchmarks.md', import.meta.url);
const header = [
  '# Benchmarks',
  '',
  `Produced by \`npm run bench${only.size ? ` -- ${[...only].join(' ')}` : ''}\` on ${started.toISOString().slice(0, 10)} (${process.platform}, Node ${process.version}, ${cpus().length} cores).`,
  'Load from a separate process (wrk for the read figures, the bench process itself for uploads and times to last byte); servers and bare baselines in child processes. Every ratio compares against a baseline measured in the same run.',
  '',
];
if (only.size === 0 || !existsSync(target)) {
  writeFileSync(target, [...header, ...sections].join('\n'));
} else {
  // A partial run replaces only its own sections (matched by their heading) and keeps the others.
  const split = (text: string) => text.split(/^(?=## )/m);
  const [preamble, ...existing] = split(readFileSync(target, 'utf8'));
  const fresh = split(sections.join('\n')).filter((part) => part.startsWith('## '));
  const title = (part: string) => part.slice(0, part.indexOf('\n')).replace(/\s*\(issues?[^)]*\)$/, '');
  const merged = existing.map((part) => fresh.find((f) => title(f) === title(part)) ?? part);
  for (const f of fresh) if (!existing.some((part) => title(part) === title(f))) merged.push(f);
  writeFileSync(target, [preamble, ...merged.map((part) => (part.endsWith('\n') ? part : `${part}\n`))].join(''));
}
console.log('wrote docs/benchmarks.md');
