/**
 * The provenance state of each release, derived from what the index stores (issue 6): whether its
 * files carry attestations, whether they agree on who built or published them, and how that
 * compares with earlier releases. The index never decides whether a signer is trusted; these
 * states only describe what changed, which is what a reader (or a policy) wants to notice.
 */
export type ProvenanceStateName = 'none' | 'full' | 'partial' | 'inconsistent' | 'lost' | 'changed';

export interface ProvenanceState {
  state: ProvenanceStateName;
  explanation: string;
}

/** One stored attestation, reduced to what identifies its signer. */
export interface AttestationSignerSummary {
  kind: 'build' | 'publish' | 'other';
  issuer: string;
  identity: string;
  /** The trusted publisher recorded at upload (PEP 740 publisher object), if any. */
  publisher: Record<string, unknown> | null;
}

export interface ReleaseProvenanceInput {
  version: string;
  /** One entry per file of the release: the attestations bound to it. */
  files: AttestationSignerSummary[][];
}

/**
 * A build signer is its certified identity: for a reusable builder workflow that is the workflow
 * URI including the builder's ref, so a new builder version counts as a different builder.
 */
export function builderKey(a: AttestationSignerSummary): string {
  return `${a.issuer} ${a.identity}`;
}

/**
 * A publisher is the trusted publisher (kind, repository, workflow, environment) rather than the
 * signing identity: for GitHub the identity embeds the release tag, which differs every release.
 */
export function publisherKey(a: AttestationSignerSummary): string {
  const p = a.publisher;
  if (p && typeof p.kind === 'string') {
    const parts = [p.kind, p.repository, p.workflow, p.environment, p.email, p.issuer, p.identity]
      .map((v) => (typeof v === 'string' ? v : ''))
      .join(' ');
    return `${a.issuer} ${parts}`;
  }
  return `${a.issuer} ${a.identity}`;
}

interface ReleaseSigners {
  withProvenance: number;
  fileCount: number;
  builders: Set<string>;
  publishers: Set<string>;
}

function signersOf(release: ReleaseProvenanceInput): ReleaseSigners {
  const builders = new Set<string>();
  const publishers = new Set<string>();
  let withProvenance = 0;
  for (const attestations of release.files) {
    if (attestations.length > 0) withProvenance++;
    for (const a of attestations) {
      if (a.kind === 'build') builders.add(builderKey(a));
      else if (a.kind === 'publish') publishers.add(publisherKey(a));
    }
  }
  return { withProvenance, fileCount: release.files.length, builders, publishers };
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** Keys start with the issuer; readers recognise the identity or publisher that follows it. */
function describeSet(values: Set<string>): string {
  return [...values].map((v) => v.slice(v.indexOf(' ') + 1).split(' ').filter(Boolean).join(' ')).join(', ');
}

function coverage(s: ReleaseSigners): string {
  return s.withProvenance === s.fileCount
    ? `all ${s.fileCount} file${s.fileCount === 1 ? '' : 's'} carry provenance`
    : `${s.withProvenance} of ${s.fileCount} files carry provenance`;
}

/**
 * States for releases given oldest first (PEP 440 order). "Previous" means the nearest earlier
 * release that had provenance, so a release without any does not hide a change of builder.
 * When several states apply, the one a reader must notice first wins:
 * lost > inconsistent > changed > partial > full > none.
 */
export function provenanceStates(releases: readonly ReleaseProvenanceInput[]): ProvenanceState[] {
  const states: ProvenanceState[] = [];
  let previous: { version: string; signers: ReleaseSigners } | null = null;
  for (const release of releases) {
    const signers = signersOf(release);
    if (signers.fileCount === 0) {
      states.push({ state: 'none', explanation: 'This release has no files.' });
      continue;
    }
    if (signers.withProvenance === 0) {
      states.push(
        previous
          ? {
              state: 'lost',
              explanation: `No file of this release carries provenance, but release ${previous.version} did.`,
            }
          : { state: 'none', explanation: 'No file of this release carries provenance.' },
      );
      continue;
    }
    const notes: string[] = [];
    let state: ProvenanceStateName = signers.withProvenance === signers.fileCount ? 'full' : 'partial';
    if (signers.builders.size > 1 || signers.publishers.size > 1) {
      state = 'inconsistent';
      if (signers.builders.size > 1) notes.push(`files were built by ${signers.builders.size} different builders (${describeSet(signers.builders)})`);
      if (signers.publishers.size > 1) notes.push(`files were published by ${signers.publishers.size} different publishers (${describeSet(signers.publishers)})`);
    } else if (previous) {
      const before = previous.signers;
      const builderChanged = signers.builders.size > 0 && before.builders.size > 0 && !sameSet(signers.builders, before.builders);
      const publisherChanged = signers.publishers.size > 0 && before.publishers.size > 0 && !sameSet(signers.publishers, before.publishers);
      const builderDropped = signers.builders.size === 0 && before.builders.size > 0;
      const publisherDropped = signers.publishers.size === 0 && before.publishers.size > 0;
      if (builderChanged || publisherChanged || builderDropped || publisherDropped) {
        state = 'changed';
        if (builderChanged) notes.push(`the builder differs from release ${previous.version} (was ${describeSet(before.builders)}; now ${describeSet(signers.builders)})`);
        if (publisherChanged) notes.push(`the publisher differs from release ${previous.version} (was ${describeSet(before.publishers)}; now ${describeSet(signers.publishers)})`);
        if (builderDropped) notes.push(`release ${previous.version} had build provenance, this one has none`);
        if (publisherDropped) notes.push(`release ${previous.version} had a publish attestation, this one has none`);
      }
    }
    notes.push(coverage(signers));
    const sentence = notes.join('; ');
    states.push({ state, explanation: `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.` });
    previous = { version: release.version, signers };
  }
  return states;
}

export const PROVENANCE_STATE_LABELS: Record<ProvenanceStateName, string> = {
  none: 'No provenance',
  full: 'Provenance',
  partial: 'Partial provenance',
  inconsistent: 'Inconsistent provenance',
  lost: 'Provenance lost',
  changed: 'Provenance changed',
};
