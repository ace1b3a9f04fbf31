import { CairnError } from '../../errors.ts';
import { isSigstoreBundle } from '../../formats/pep740.ts';

/**
 * What a consumer may hand `cairn verify` as `--attestation FILE`, or an index may serve: a PEP 740
 * attestation, a Sigstore bundle, a PEP 740 provenance object (all its attestations), or a JSON
 * array of attestations. Returns the individual attestations, unverified.
 */
export function attestationsFromJson(json: unknown, source: string): unknown[] {
  if (Array.isArray(json)) return json;
  if (typeof json !== 'object' || json === null) throw new CairnError('attestation.malformed', `${source} is not a JSON object`);
  const o = json as Record<string, unknown>;
  if ('attestation_bundles' in o) return attestationsOfProvenanceObject(o, source);
  if (isSigstoreBundle(json) || 'envelope' in o || 'verification_material' in o) return [json];
  throw new CairnError('attestation.malformed', `${source} is neither a PEP 740 attestation, a provenance object nor a Sigstore bundle`);
}

/** PEP 740 §provenance objects: `{version: 1, attestation_bundles: [{publisher, attestations: [...]}]}`. */
export function attestationsOfProvenanceObject(json: unknown, source: string): unknown[] {
  const o = json as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || !Array.isArray(o.attestation_bundles)) {
    throw new CairnError('provenance.malformed', `${source} is not a PEP 740 provenance object (no attestation_bundles list)`);
  }
  if (o.version !== 1) throw new CairnError('provenance.malformed', `${source}: provenance object version ${JSON.stringify(o.version)}, expected 1`);
  const out: unknown[] = [];
  o.attestation_bundles.forEach((bundle, i) => {
    const b = bundle as Record<string, unknown> | null;
    if (typeof b !== 'object' || b === null || !Array.isArray(b.attestations)) {
      throw new CairnError('provenance.malformed', `${source}: attestation_bundles[${i}] has no attestations list`);
    }
    out.push(...b.attestations);
  });
  return out;
}

export function parseJsonText(text: string, source: string, code: 'attestation.malformed' | 'provenance.malformed'): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CairnError(code, `${source} is not JSON: ${(error as Error).message}`);
  }
}

/** The subject name an attestation claims, read without verifying (only to pair files with `--attestation`). */
export function claimedSubjectName(attestation: unknown): string | null {
  try {
    const a = attestation as Record<string, unknown>;
    let payload: string | undefined;
    if (isSigstoreBundle(a)) payload = ((a as Record<string, unknown>).dsseEnvelope as Record<string, string> | undefined)?.payload;
    else payload = (a.envelope as Record<string, string> | undefined)?.statement;
    if (!payload) return null;
    const statement = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { subject?: { name?: unknown }[] };
    const name = statement.subject?.[0]?.name;
    return typeof name === 'string' ? name : null;
  } catch {
    return null;
  }
}
