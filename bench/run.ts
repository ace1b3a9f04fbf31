import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { runIndexBench } from './index-bench.ts';
import { runProvenanceBench } from './provenance-bench.ts';
import { runVerifyBench } from './verify-bench.ts';

/**
 * `npm run bench`: every figure is a ratio against a baseline measured in the same run, and the
 * report lands in docs/benchmarks.md with the command that produced it. `npm run bench -- NAME…`
 * runs only the named sections (index, provenance, verify, ui, import).
 */
const only = new Set(process.argv.slice(2));
const wanted = (name: string) => only.size === 0 || only.has(name);
const sections: string[] = [];
const started = new Date();

if (wanted('index')) {
  const index = await runIndexBench();
  sections.push(
    '## Index: simple API and upload (issue 2)',
    '',
    ...index.lines,
    '',
    `Goals: project page ≥ 0.60 of bare node:http (JSON ${index.ratios.projectJson.toFixed(2)}, HTML ${index.ratios.projectHtml.toFixed(2)}); upload ≥ 0.70 of hash+write (${index.ratios.upload.toFixed(2)}; a bare node:http receiver reaches ${index.ratios.uploadFloorSha256.toFixed(2)} doing only sha256+write+fsync, ${index.ratios.uploadFloorDigests.toFixed(2)} computing the three digests).`,
    '',
  );
}

if (wanted('provenance')) {
  const provenance = await runProvenanceBench();
  sections.push('## Build-provenance submissions (issue 4)', '', ...provenance.lines, '');
}

if (wanted('verify')) {
  const verify = await runVerifyBench();
  const v = verify as {
    verificationsPerSecondPerCore: { plainSigstoreVerify: number; cairn: number; ratio: number };
    pylockWarmSecondsInProcess: number;
    pylockWarmSecondsCli: number;
    pylockColdSeconds: number;
    cliStartupSeconds: number;
    distributions: number;
  };
  sections.push(
    '## Verification (issues 3 and 5)',
    '',
    '| measure | plain @sigstore/verify | cairn | ratio |',
    '|---|---|---|---|',
    `| keyless bundle verifications per second, one core | ${v.verificationsPerSecondPerCore.plainSigstoreVerify} | ${v.verificationsPerSecondPerCore.cairn} | ${v.verificationsPerSecondPerCore.ratio} |`,
    '',
    `\`cairn verify\` of a ${v.distributions}-distribution pylock.toml: cold cache ${v.pylockColdSeconds} s; warm cache ${v.pylockWarmSecondsInProcess} s in-process, ${v.pylockWarmSecondsCli} s as a CLI process (Node + tsx start-up ${v.cliStartupSeconds} s). Goal: < 2 s warm.`,
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

writeFileSync(
  new URL('../docs/benchmarks.md', import.meta.url),
  [
    '# Benchmarks',
    '',
    `Produced by \`npm run bench${only.size ? ` -- ${[...only].join(' ')}` : ''}\` on ${started.toISOString().slice(0, 10)} (${process.platform}, Node ${process.version}, ${cpus().length} cores).`,
    'Load: autocannon on loopback, server and bare baseline in child processes. Every ratio compares against a baseline measured in the same run.',
    '',
    ...sections,
  ].join('\n'),
);
console.log('wrote docs/benchmarks.md');
