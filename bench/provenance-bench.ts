import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { buildProvenanceStatement } from '../src/formats/slsa-provenance.ts';
import { bundleToAttestation } from '../src/formats/pep740.ts';
import { devToken, signWithDevTrust } from '../test/support/provenance.ts';
import { startTestServer } from '../test/support/server.ts';

/**
 * Build-provenance submissions (issue 4): `POST /_/provenance` per second — verify, check the
 * source against the certificate, store pending — next to the bare verification of the same
 * attestations in-process (the floor of what a submission must cost), in the same run.
 */
const SUBMISSIONS = Number(process.env.BENCH_PROVENANCE_SUBMISSIONS ?? 120);
const COMMIT = 'c'.repeat(40);

export interface ProvenanceBenchResult {
  lines: string[];
  verifyPerSecond: number;
  submitPerSecond: number;
  submitConcurrentPerSecond: number;
}

export async function runProvenanceBench(): Promise<ProvenanceBenchResult> {
  const server = await startTestServer('sqlite', { devTrust: true, pendingMaxPerSigner: 100_000, pendingMaxPerFile: 24 });
  try {
    const token = await devToken(server, { sha: COMMIT });
    const now = new Date();
    const items: { filename: string; sha256: string; attestation: unknown }[] = [];
    for (let i = 0; i < SUBMISSIONS; i++) {
      const filename = `bench_prov-1.0.${i}-py3-none-any.whl`;
      const sha256 = createHash('sha256').update(filename).digest('hex');
      const statement = buildProvenanceStatement({
        filename, sha256, source: { repository: 'https://github.com/octo-org/octo-repo', commit: COMMIT }, tools: [{ name: 'build', version: '1.0.3' }],
        builderId: 'https://github.com/cairn-dev/builder', invocationId: `run-${i}`, startedOn: now, finishedOn: now,
      });
      items.push({ filename, sha256, attestation: bundleToAttestation(await signWithDevTrust(server, statement, token)) });
    }

    const verify = server.services.verifier.verifyForIndex;
    for (const item of items.slice(0, 10)) verify(item.attestation, item);
    let start = performance.now();
    for (const item of items) verify(item.attestation, item);
    const verifyPerSecond = items.length / ((performance.now() - start) / 1000);

    const submit = async (item: (typeof items)[number]) => {
      const response = await fetch(`${server.url}/_/provenance`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ filename: item.filename, sha256: item.sha256, attestations: [item.attestation] }),
      });
      if (response.status !== 200) throw new Error(`submission answered ${response.status}: ${await response.text()}`);
    };
    const half = Math.floor(items.length / 2);
    start = performance.now();
    for (const item of items.slice(0, half)) await submit(item);
    const submitPerSecond = half / ((performance.now() - start) / 1000);
    const rest = items.slice(half);
    start = performance.now();
    for (let i = 0; i < rest.length; i += 4) await Promise.all(rest.slice(i, i + 4).map(submit));
    const submitConcurrentPerSecond = rest.length / ((performance.now() - start) / 1000);

    const lines = [
      `| measure | per second | vs in-process verification |`,
      `|---|---|---|`,
      `| verification only (in-process, one core) | ${verifyPerSecond.toFixed(0)} | 1.00 |`,
      `| POST /_/provenance, one client | ${submitPerSecond.toFixed(0)} | ${(submitPerSecond / verifyPerSecond).toFixed(2)} |`,
      `| POST /_/provenance, 4 concurrent clients | ${submitConcurrentPerSecond.toFixed(0)} | ${(submitConcurrentPerSecond / verifyPerSecond).toFixed(2)} |`,
      `(${SUBMISSIONS} distinct dev-trust-signed SLSA v1 attestations; each submission verifies, checks source against the certificate and stores a pending row in SQLite)`,
    ];
    for (const line of lines) console.log(line);
    return { lines, verifyPerSecond, submitPerSecond, submitConcurrentPerSecond };
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runProvenanceBench();
