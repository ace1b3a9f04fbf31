import type { AttestationFacts } from '../formats/provenance-object.ts';
import { publisherOfSigner } from '../formats/provenance-object.ts';
import type { AttestationIdentity } from '../formats/pylock.ts';
import { stableIdentity } from './evaluate.ts';

/** PEP 751 identities compare as PEP 740 publishers: the kind, then every key the lock records. */
export function identityMatches(identity: AttestationIdentity, facts: AttestationFacts): boolean {
  const derived = publisherOfSigner(facts);
  if (String(derived.kind).toLowerCase() !== identity.kind.toLowerCase()) return false;
  for (const [key, value] of Object.entries(identity)) {
    if (key === 'kind' || key === 'claims' || value === null || value === '' || value === undefined) continue;
    // A certificate does not carry the deployment environment; PyPI's publisher does. Skip it
    // rather than fail every GitHub identity recorded with one.
    if (key === 'environment') continue;
    const mine = derived[key];
    if (typeof mine !== 'string' || typeof value !== 'string') return false;
    if (key === 'repository' ? mine.toLowerCase() !== value.toLowerCase() : key === 'identity' ? stableIdentity(mine) !== stableIdentity(value) : mine !== value) return false;
  }
  return true;
}

/** The identity `--lock-identities` records for an accepted attestation: stable across releases. */
export function lockIdentityOf(facts: AttestationFacts): AttestationIdentity {
  const derived = publisherOfSigner(facts);
  const out: AttestationIdentity = { kind: String(derived.kind) };
  for (const [key, value] of Object.entries(derived)) {
    if (key === 'kind' || key === 'claims' || key === 'environment' || typeof value !== 'string' || value === '') continue;
    out[key] = key === 'identity' ? stableIdentity(value) : value;
  }
  return out;
}

export function describeIdentity(identity: AttestationIdentity): string {
  return Object.entries(identity)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}
