import { writeFileSync } from 'node:fs';
import { runIndexBench } from './index-bench.ts';

/**
 * `npm run bench`: every figure is a ratio against a baseline measured in the same run, and the
 * report lands in docs/benchmarks.md with the command that produced it.
 */
const sections: string[] = [];
const started = new Date();

const index = await runIndexBench();
sections.push(
  '## Index (issue 2)',
  '',
  ...index.lines,
  '',
  `Goals: project page ≥ 0.60 of bare node:http (JSON ${index.ratios.projectJson.toFixed(2)}, HTML ${index.ratios.projectHtml.toFixed(2)}); upload ≥ 0.70 of hash+write (${index.ratios.upload.toFixed(2)}).`,
  '',
);

writeFileSync(
  new URL('../docs/benchmarks.md', import.meta.url),
  [
    '# Benchmarks',
    '',
    `Produced by \`npm run bench\` on ${started.toISOString().slice(0, 10)} (${process.platform}, Node ${process.version}, ${(await import('node:os')).cpus().length} cores).`,
    'Load: autocannon on loopback, server and bare baseline in child processes; each row is an average over the run.',
    '',
    ...sections,
  ].join('\n'),
);
console.log('wrote docs/benchmarks.md');
