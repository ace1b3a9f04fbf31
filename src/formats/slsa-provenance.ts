import { CairnError } from '../errors.ts';
import { isCommitDigest } from './digests.ts';

/**
 * cairn's SLSA Provenance v1 build type (docs/build-type.md). `externalParameters.source`
 * (repository, commit) are the parameters with special meaning: verifiers compare them with the
 * signing certificate's Source Repository URI/Digest.
 */
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const PYPI_PUBLISH_V1 = 'https://docs.pypi.org/attestations/publish/v1';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
export const CAIRN_BUILD_TYPE = 'https://cairn.dev/buildtypes/python-dist/v1';

export interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest?: Record<string, string>;
  annotations?: Record<string, unknown>;
}

export interface CairnBuildDefinition {
  repository: string;
  commit: string;
  ref?: string;
  path?: string;
}

export interface BuildProvenanceInput {
  filename: string;
  sha256: string;
  source: CairnBuildDefinition;
  tools: { name: string; version: string; uri?: string; requirement?: string }[];
  builderId: string;
  invocationId: string;
  startedOn: Date;
  finishedOn: Date;
}

/** What a verifier reads back out of a build provenance statement. */
export interface BuildParameters {
  buildType: string;
  repository: string | null;
  commit: string | null;
  ref: string | null;
  builderId: string | null;
  invocationId: string | null;
}

/** One statement per distribution (in-toto Statement v1 with a SLSA Provenance v1 predicate). */
export function buildProvenanceStatement(input: BuildProvenanceInput): Record<string, unknown> {
  if (!isCommitDigest(input.source.commit)) {
    throw new CairnError('build.bad_commit', `source commit must be a full 40- or 64-hex digest, got '${input.source.commit}'`);
  }
  const externalParameters: Record<string, unknown> = {
    source: { repository: input.source.repository, commit: input.source.commit, ...(input.source.ref ? { ref: input.source.ref } : {}) },
  };
  if (input.source.path) externalParameters.path = input.source.path;
  const gitRef = input.source.ref ?? input.source.commit;
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: input.filename, digest: { sha256: input.sha256 } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: CAIRN_BUILD_TYPE,
        externalParameters,
        internalParameters: {},
        resolvedDependencies: [
          { uri: `git+${input.source.repository}@${gitRef}`, digest: { gitCommit: input.source.commit } },
          ...input.tools.map((t) => ({
            name: t.name,
            uri: t.uri ?? (t.version ? `pkg:pypi/${t.name}@${t.version}` : `pkg:pypi/${t.name}`),
            annotations: { ...(t.version ? { version: t.version } : {}), ...(t.requirement ? { requirement: t.requirement } : {}) },
          })),
        ],
      },
      runDetails: {
        builder: { id: input.builderId },
        metadata: {
          invocationId: input.invocationId,
          startedOn: input.startedOn.toISOString(),
          finishedOn: input.finishedOn.toISOString(),
        },
      },
    },
  };
}

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/**
 * Reads the parameters with special meaning from a SLSA v1 predicate. For cairn's own build type
 * they are required; other build types (e.g. GitHub's attest-build-provenance) are read best-effort.
 */
export function readBuildParameters(predicate: unknown): BuildParameters {
  const p = record(predicate);
  const definition = record(p?.buildDefinition);
  if (!definition || typeof definition.buildType !== 'string') {
    throw new CairnError('provenance.malformed', 'the SLSA predicate has no buildDefinition.buildType');
  }
  const external = record(definition.externalParameters) ?? {};
  const source = record(external.source);
  const runDetails = record(p?.runDetails);
  const builder = record(runDetails?.builder);
  const metadata = record(runDetails?.metadata);
  const params: BuildParameters = {
    buildType: definition.buildType,
    repository: typeof source?.repository === 'string' ? source.repository : null,
    commit: typeof source?.commit === 'string' ? source.commit : null,
    ref: typeof source?.ref === 'string' ? source.ref : null,
    builderId: typeof builder?.id === 'string' ? builder.id : null,
    invocationId: typeof metadata?.invocationId === 'string' ? metadata.invocationId : null,
  };
  if (params.buildType === CAIRN_BUILD_TYPE) {
    if (!params.repository || !/^https:\/\/\S+$/.test(params.repository)) {
      throw new CairnError('provenance.malformed', 'externalParameters.source.repository must be an https git URL');
    }
    if (!isCommitDigest(params.commit)) {
      throw new CairnError('provenance.malformed', `externalParameters.source.commit must be a 40- or 64-hex commit digest, got ${JSON.stringify(params.commit)}`);
    }
    if (!params.builderId) throw new CairnError('provenance.malformed', 'runDetails.builder.id is missing');
  }
  return params;
}

/** Compares repository URLs the way people write them (scheme, case of host, `.git`, trailing slash). */
export function sameRepository(a: string, b: string): boolean {
  const canonical = (url: string) =>
    url
      .trim()
      .replace(/^git\+/, '')
      .replace(/\.git$/, '')
      .replace(/\/+$/, '')
      .replace(/^https?:\/\/([^/]+)/i, (_m, host: string) => `https://${host.toLowerCase()}`);
  return canonical(a) === canonical(b);
}
