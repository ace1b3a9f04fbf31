import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttestationFacts } from '../../src/formats/provenance-object.ts';
import { distributionPurl, verificationSummaryStatement, verifiedBuildLevel, VSA_PREDICATE_TYPE } from '../../src/formats/vsa.ts';

/** The VSA statement against the SLSA verification_summary/v1 field list, and the levels cairn claims. */
describe('SLSA VSA v1 statement', () => {
  const input = {
    filename: 'demo-1.0.tar.gz',
    sha256: 'a'.repeat(64),
    verifier: { id: 'https://verifier.example/v1', version: { cairn: '1.2.3' } },
    timeVerified: new Date('2026-01-02T03:04:05.000Z'),
    resourceUri: 'https://index.example/files/x/demo-1.0.tar.gz',
    policy: { uri: 'file:///etc/cairn-policy.toml', digest: { sha256: 'b'.repeat(64) } },
    inputAttestations: [{ uri: 'https://index.example/integrity/demo/1.0/demo-1.0.tar.gz/provenance#0', digest: { sha256: 'c'.repeat(64) } }],
    verificationResult: 'PASSED' as const,
    verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
  };

  test('an in-toto Statement v1 with one subject and every required predicate field', () => {
    const statement = verificationSummaryStatement(input);
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
    assert.equal(statement.predicateType, VSA_PREDICATE_TYPE);
    assert.equal(VSA_PREDICATE_TYPE, 'https://slsa.dev/verification_summary/v1');
    assert.deepEqual(statement.subject, [{ name: 'demo-1.0.tar.gz', digest: { sha256: 'a'.repeat(64) } }]);
    assert.deepEqual(statement.predicate, {
      verifier: { id: 'https://verifier.example/v1', version: { cairn: '1.2.3' } },
      timeVerified: '2026-01-02T03:04:05.000Z',
      resourceUri: 'https://index.example/files/x/demo-1.0.tar.gz',
      policy: { uri: 'file:///etc/cairn-policy.toml', digest: { sha256: 'b'.repeat(64) } },
      inputAttestations: [{ uri: 'https://index.example/integrity/demo/1.0/demo-1.0.tar.gz/provenance#0', digest: { sha256: 'c'.repeat(64) } }],
      verificationResult: 'PASSED',
      verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
      slsaVersion: '1.1',
    });
  });

  test('dependencyLevels only when dependencies were verified', () => {
    const withDependencies = verificationSummaryStatement({ ...input, dependencyLevels: { SLSA_BUILD_LEVEL_1: 3 } });
    assert.deepEqual((withDependencies.predicate as Record<string, unknown>).dependencyLevels, { SLSA_BUILD_LEVEL_1: 3 });
  });

  test('levels: hosted build provenance is L2, self-hosted or unnamed runners L1, anything else L0', () => {
    const facts = (overrides: Partial<AttestationFacts>) => ({ kind: 'build', runnerEnvironment: 'github-hosted', ...overrides }) as AttestationFacts;
    assert.equal(verifiedBuildLevel(facts({})), 'SLSA_BUILD_LEVEL_2');
    assert.equal(verifiedBuildLevel(facts({ runnerEnvironment: 'self-hosted' })), 'SLSA_BUILD_LEVEL_1');
    assert.equal(verifiedBuildLevel(facts({ runnerEnvironment: null })), 'SLSA_BUILD_LEVEL_1');
    assert.equal(verifiedBuildLevel(facts({ kind: 'publish' })), 'SLSA_BUILD_LEVEL_0');
    assert.equal(verifiedBuildLevel(undefined), 'SLSA_BUILD_LEVEL_0');
  });

  test('a file without a download URL is named by its package URL', () => {
    assert.equal(distributionPurl('demo', '1.0', 'demo-1.0.tar.gz'), 'pkg:pypi/demo@1.0?file_name=demo-1.0.tar.gz');
  });
});
