import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import { CairnError, type ErrorCode } from '../../errors.ts';
import { distributionPurl, verificationSummaryStatement, verifiedBuildLevel } from '../../formats/vsa.ts';
import type { DistributionResult } from './verify-distribution.ts';

/** What `cairn verify --vsa DIR` did for one file. */
export type VsaOutcome = { filename: string; path: string } | { filename: string; code: ErrorCode; message: string };

export interface VsaOptions {
  dir: string;
  verifier: { id: string; version?: Record<string, string> };
  policy: { uri: string; digest?: Record<string, string> };
  /** Signs an in-toto statement keylessly (a Sigstore bundle), as the builder signs its provenance. */
  sign: (statement: Record<string, unknown>) => Promise<SerializedBundle>;
  now: () => Date;
}

/** Where the VSA of a distribution file is written, and served beside it by the proxy. */
export function vsaFilename(filename: string): string {
  return `${filename}.vsa.sigstore.json`;
}

/**
 * One signed VSA per file that passed. A file that failed gets none (`vsa.not_verified`): a
 * summary saying FAILED would be a signed document a careless consumer might still take as a
 * pass, and nothing about a failed file is worth vouching for.
 */
export async function writeVerificationSummaries(results: readonly DistributionResult[], options: VsaOptions): Promise<VsaOutcome[]> {
  const outcomes: VsaOutcome[] = [];
  for (const result of results) {
    if (result.status !== 'pass' || result.sha256 === null) {
      outcomes.push({
        filename: result.filename,
        code: 'vsa.not_verified',
        message: `no verification summary for ${result.filename}: it did not pass verification${result.code ? ` (${result.code})` : ''}`,
      });
      continue;
    }
    const verified = result.attestations.filter((a) => a.verified);
    const accepted = result.verdict?.attestationIndex !== undefined ? verified[result.verdict.attestationIndex]?.facts : undefined;
    const statement = verificationSummaryStatement({
      filename: result.filename,
      sha256: result.sha256,
      verifier: options.verifier,
      timeVerified: options.now(),
      resourceUri: result.url ?? distributionPurl(result.project, result.version, result.filename),
      policy: options.policy,
      inputAttestations: verified.filter((a) => a.sha256 !== undefined).map((a) => ({ uri: a.source, digest: { sha256: a.sha256! } })),
      verificationResult: 'PASSED',
      verifiedLevels: [verifiedBuildLevel(result.verdict?.required === 'none' ? undefined : accepted)],
    });
    const bundle = await options.sign(statement);
    mkdirSync(options.dir, { recursive: true });
    const path = join(options.dir, vsaFilename(result.filename));
    try {
      writeFileSync(path, `${JSON.stringify(bundle)}\n`);
    } catch (error) {
      throw new CairnError('usage.invalid_argument', `cannot write ${path}: ${(error as Error).message}`);
    }
    outcomes.push({ filename: result.filename, path });
  }
  return outcomes;
}
