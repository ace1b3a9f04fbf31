import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { SerializedBundle } from '@sigstore/bundle';
import Fastify from 'fastify';
import { registerDevTrust } from '../../src/devtrust/routes.ts';
import { bundleToAttestation, type Pep740Attestation } from '../../src/formats/pep740.ts';
import { buildProvenanceStatement } from '../../src/formats/slsa-provenance.ts';
import { DEV_TRUST_PREFIX } from '../../src/server/http/dev-trust-mount.ts';
import { devIssuerToken, type DevTokenClaims as IssuerClaims } from '../../src/client/oidc-credentials.ts';
import { signStatement } from '../../src/client/signing.ts';

/**
 * Real provenance for tests, made the way a builder makes it: a CI-like token from the dev
 * issuer mounted in a test server started with `{ devTrust: true }`, a certificate from its CA,
 * an entry in its log. Nothing here is faked: the index verifies the result as it would any other.
 */

export interface ServerWithUrl {
  url: string;
}

export const DEFAULT_REPOSITORY = 'octo-org/octo-repo';
export const DEFAULT_COMMIT = 'a'.repeat(40);
export const DEFAULT_BUILDER_WORKFLOW = 'cairn-dev/builder/.github/workflows/cairn-build.yml@refs/tags/v1';

export function devTrustBase(server: ServerWithUrl): string {
  return `${server.url}${DEV_TRUST_PREFIX}`;
}

/** Any claim left out gets a default (octo-org/octo-repo, its release workflow, the cairn-dev builder). */
export type DevTokenClaims = Partial<IssuerClaims>;

/** A token from the dev issuer; `aud` defaults to `sigstore` (for signing); use the index's audience for trusted publishing. */
export async function devToken(server: ServerWithUrl, claims: DevTokenClaims = {}): Promise<string> {
  const repository = claims.repository ?? DEFAULT_REPOSITORY;
  const body = {
    repository,
    workflow_ref: claims.workflow_ref ?? `${repository}/.github/workflows/release.yml@refs/heads/main`,
    job_workflow_ref: claims.job_workflow_ref ?? DEFAULT_BUILDER_WORKFLOW,
    sha: claims.sha ?? DEFAULT_COMMIT,
    ref: claims.ref ?? 'refs/heads/main',
    ...(claims.environment ? { environment: claims.environment } : {}),
    ...(claims.run_id ? { run_id: claims.run_id } : {}),
    ...(claims.runner_environment ? { runner_environment: claims.runner_environment } : {}),
    ...(claims.aud ? { aud: claims.aud } : {}),
  };
  return (await devIssuerToken(devTrustBase(server), body)).token;
}

/**
 * Rekor v1 (default): a `dsse` entry with a signed entry timestamp. Rekor v2: a `hashedrekord`
 * 0.0.2 entry over the PAE in the domain's v2 log, and an RFC 3161 timestamp from its TSA.
 */
export async function signWithDevTrust(server: ServerWithUrl, statement: Record<string, unknown>, token: string, rekorVersion: 1 | 2 = 1): Promise<SerializedBundle> {
  const base = devTrustBase(server);
  if (rekorVersion === 2) return signStatement(statement, token, { fulcioUrl: `${base}/fulcio`, rekorUrl: `${base}/rekor-v2`, rekorVersion: 2, tsaUrl: `${base}/tsa` });
  return signStatement(statement, token, { fulcioUrl: `${base}/fulcio`, rekorUrl: `${base}/rekor` });
}

/**
 * Signs through a second, independent dev trust domain (its own CA, log and keys) that the index
 * under test has never heard of: what an attacker with their own Sigstore instance would produce.
 */
export async function signWithForeignDevTrust(statement: Record<string, unknown>, claims: DevTokenClaims = {}): Promise<SerializedBundle> {
  const stateDir = mkdtempSync(join(tmpdir(), 'cairn-foreign-'));
  const app = Fastify();
  const foreign = { url: '' };
  try {
    await registerDevTrust(app, { prefix: DEV_TRUST_PREFIX, baseUrl: () => devTrustBase(foreign), stateDir });
    foreign.url = await app.listen({ host: '127.0.0.1', port: 0 });
    return await signWithDevTrust(foreign, statement, await devToken(foreign, claims));
  } finally {
    await app.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export interface BuildProvenanceRequest {
  filename: string;
  sha256: string;
  /** Recorded in the statement; defaults to the certified repository (https://github.com/OWNER/REPO). */
  statementRepository?: string;
  statementCommit?: string;
  builderId?: string;
  claims?: DevTokenClaims;
  /** 2: signed the Rekor v2 way (hashedrekord over the PAE, RFC 3161 timestamp). */
  rekorVersion?: 1 | 2;
}

export interface SignedProvenance {
  attestation: Pep740Attestation;
  bundle: SerializedBundle;
  statement: Record<string, unknown>;
}

/** A SLSA v1 build provenance statement in cairn's build type, signed through the dev trust domain. */
export async function signBuildProvenance(server: ServerWithUrl, request: BuildProvenanceRequest): Promise<SignedProvenance> {
  const claims = request.claims ?? {};
  const repository = claims.repository ?? DEFAULT_REPOSITORY;
  const certifiedRepository = /^https?:\/\//.test(repository) ? repository : `https://github.com/${repository}`;
  const commit = claims.sha ?? DEFAULT_COMMIT;
  const now = new Date();
  const statement = buildProvenanceStatement({
    filename: request.filename,
    sha256: request.sha256,
    source: { repository: request.statementRepository ?? certifiedRepository, commit: request.statementCommit ?? commit, ref: claims.ref ?? 'refs/heads/main' },
    tools: [{ name: 'build', version: '1.0.3' }],
    builderId: request.builderId ?? `https://github.com/${claims.job_workflow_ref ?? DEFAULT_BUILDER_WORKFLOW}`,
    invocationId: `https://github.com/${repository}/actions/runs/1/attempts/1`,
    startedOn: now,
    finishedOn: now,
  });
  const token = await devToken(server, { ...claims, sha: commit });
  const bundle = await signWithDevTrust(server, statement, token, request.rekorVersion ?? 1);
  return { attestation: bundleToAttestation(bundle), bundle, statement };
}

/** POST /_/provenance as a builder does; answers the status and parsed body. */
export async function submitProvenance(
  server: ServerWithUrl,
  submission: { filename: string; sha256: string; attestations: unknown[] },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/_/provenance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(submission),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Signs and submits build provenance for a distribution file on disk. */
export async function provideBuildProvenance(server: ServerWithUrl, path: string, request: Omit<BuildProvenanceRequest, 'filename' | 'sha256'> = {}) {
  const filename = basename(path);
  const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  const signed = await signBuildProvenance(server, { ...request, filename, sha256 });
  const submitted = await submitProvenance(server, { filename, sha256, attestations: [signed.attestation] });
  return { ...signed, filename, sha256, submitted };
}

/**
 * The attestation as valid JSON that no serialiser would write: its own key order, odd
 * whitespace (tabs, CRLF, indentation), `\/` and `\u0076` escapes, and a member the verifier
 * ignores holding non-ASCII escapes and brackets. It parses to the attestation plus that member;
 * an index that keeps attestations byte for byte (DESIGN §4) must hand these exact characters back.
 */
export function unusuallyFormatted(attestation: Pep740Attestation): string {
  const escapedSlashes = (value: string) => JSON.stringify(value).replaceAll('/', '\\/');
  return [
    '{\n    "envelope" : {',
    `  "signature":${escapedSlashes(attestation.envelope.signature)} ,\t"statement" :\r\n ${escapedSlashes(attestation.envelope.statement)} } ,`,
    '  "verification_material":{',
    `     "transparency_entries" : ${JSON.stringify(attestation.verification_material.transparency_entries, null, 3)},`,
    `     "certificate": ${escapedSlashes(attestation.verification_material.certificate)}   },`,
    '  "note": "caf\\u00e9 \\u2603 ] } [ { \\"quoted\\" \\\\",',
    '  "\\u0076ersion"   :   1\n}',
  ].join('\n');
}
