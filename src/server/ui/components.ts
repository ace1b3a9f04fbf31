import type { ProjectStatus } from '../../formats/project-status.ts';
import type { AttestationFacts } from '../../formats/provenance-object.ts';
import { PROVENANCE_STATE_LABELS, type ProvenanceState } from '../../formats/provenance-state.ts';
import type { ReleaseFileAttestation } from '../pages/catalogue-views.ts';
import { shortCommit, shortForgeUrl } from '../../ui/format.ts';
import { externalLink, html, safeUrl, type HtmlValue, type SafeHtml } from '../../ui/html.ts';

/** Page fragments shared by several pages. */

export const DEV_TRUST_LABEL = 'dev trust domain — not for production';

/**
 * Whether the dev trust domain this index mounts certified a signer. That domain issues a
 * certificate for any identity it is asked for (GitHub-looking ones included), so what it
 * vouches for must never look like production provenance.
 */
export function signedByDevTrust(issuer: string, devTrustBase: string | null | undefined): boolean {
  return typeof devTrustBase === 'string' && devTrustBase !== '' && issuer.startsWith(`${devTrustBase}/`);
}

export function anySignedByDevTrust(issuers: readonly string[], devTrustBase: string | null | undefined): boolean {
  return issuers.some((issuer) => signedByDevTrust(issuer, devTrustBase));
}

export function devTrustTag(): SafeHtml {
  return html`<span class="tag tag-devtrust" title="Signed through the dev trust domain, which certifies any identity it is asked for">${DEV_TRUST_LABEL}</span>`;
}

const STATUS_WORDS: Record<Exclude<ProjectStatus, 'active'>, string> = {
  archived: 'This project is archived: it takes no new files, and its maintainers do not expect to update it.',
  quarantined: 'This project is quarantined: it is considered unsafe to use, so none of its files is served and it is hidden from the simple index.',
  deprecated: 'This project is deprecated: it is considered obsolete and may have been superseded by another project.',
};

/** The PEP 792 status of a project, as a notice on its pages (nothing for an active project). */
export function projectStatusNotice(project: { status: ProjectStatus; status_reason: string | null }): SafeHtml {
  if (project.status === 'active') return html``;
  const tone = project.status === 'quarantined' ? 'notice-danger' : 'notice-warning';
  return html`<p class="notice ${tone}" role="note" data-project-status="${project.status}"><strong>${project.status[0]!.toUpperCase()}${project.status.slice(1)}.</strong> ${STATUS_WORDS[project.status]}${project.status_reason ? html` Reason: ${project.status_reason}` : ''}</p>`;
}

export function devTrustNotice(what: string): SafeHtml {
  return html`<p class="notice notice-devtrust" role="note"><strong>${DEV_TRUST_LABEL}.</strong> ${what} was signed through this index's dev trust domain, which certifies any identity it is asked for: the builder, repository and commit below are whatever the signer claimed. Trust it for development only.</p>`;
}

export function provenanceBadge(state: ProvenanceState, options: { explain?: boolean; devTrust?: boolean } = {}): SafeHtml {
  const label = PROVENANCE_STATE_LABELS[state.state];
  const badge = html`<span class="badge badge-${state.state}" title="${state.explanation}">${label}</span>${options.devTrust ? html` ${devTrustTag()}` : ''}`;
  return options.explain ? html`${badge} <span class="badge-explanation">${state.explanation}</span>` : badge;
}

export function copyButton(value: string, what: string): SafeHtml {
  // Hidden until cairn.js runs: without JavaScript there is nothing for the button to do.
  return html`<button type="button" class="copy-button" data-copy="${value}" aria-label="Copy ${what}" hidden>Copy</button>`;
}

export function copyableCommand(command: string, what: string): SafeHtml {
  return html`<div class="command"><code>${command}</code>${copyButton(command, what)}</div>`;
}

/**
 * The builder as the verified certificate names it: Fulcio's Build Signer URI, else the signing
 * identity. Never the statement's `runDetails.builder.id`, which the signer writes freely: a
 * stranger's provenance could claim any builder there (issue 11).
 */
export function builderOf(facts: AttestationFacts): string {
  return facts.buildSignerUri ?? facts.identity;
}

/**
 * The source as the certificate vouches for it (Source Repository URI and Digest). The statement's
 * repository and commit were checked against these at submission; where the certificate has none,
 * nothing vouches for the statement's, and they are not shown as the source.
 */
export function sourceOf(facts: AttestationFacts): { repository: string | null; commit: string | null } {
  return { repository: facts.sourceRepositoryUri, commit: facts.sourceRepositoryDigest };
}

/** The trusted publisher in PyPI's words: `GitHub owner/repo (release.yml)`. */
export function publisherLabel(a: Pick<ReleaseFileAttestation, 'publisher' | 'facts'>): string {
  const p = a.publisher;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  if (p && text(p.kind)) {
    const kind = text(p.kind)!;
    if (kind === 'Google') return `Google ${text(p.email) ?? a.facts.identity}`;
    const repository = text(p.repository);
    if (repository) {
      const workflow = text(p.workflow);
      const environment = text(p.environment);
      return `${kind} ${repository}${workflow ? ` (${workflow})` : ''}${environment ? ` [environment ${environment}]` : ''}`;
    }
  }
  return `${a.facts.identity} (issuer ${a.facts.issuer})`;
}

/** One line per attestation: what a reader needs before opening the details. */
export function attestationSummary(a: ReleaseFileAttestation): string {
  if (a.kind === 'build') {
    const { repository, commit } = sourceOf(a.facts);
    const from = repository ? ` from ${shortForgeUrl(repository)}${commit ? `@${shortCommit(commit)}` : ''}` : '';
    return `Built by ${shortForgeUrl(builderOf(a.facts))}${from} (${a.submittedBeforeUpload ? 'submitted before upload' : 'submitted after upload'})`;
  }
  if (a.kind === 'publish') return `Published by ${publisherLabel(a)}`;
  return `Attested by ${a.facts.identity} (${a.predicateType})`;
}

/**
 * Third parties' attestations in one line: who signed them (certified identities), apart from the
 * project's own provenance, which they never change.
 */
export function thirdPartySummary(attestations: readonly Pick<ReleaseFileAttestation, 'facts'>[]): string {
  const signers = [...new Set(attestations.map((a) => shortForgeUrl(a.facts.buildSignerUri ?? a.facts.identity)))];
  return `Also attested by ${signers.join(', ')} (third party, after upload)`;
}

/** A commit link where the forge's URL scheme is known; elsewhere (or for `asText`) the commit as text. */
export function commitLink(repository: string | null, commit: string | null, options: { asText?: boolean } = {}): SafeHtml {
  if (!commit) return html`<span class="muted">not stated</span>`;
  if (options.asText) return html`<code>${commit}</code>`;
  const repo = repository?.replace(/\.git$/, '') ?? null;
  const forge = repo && /^https:\/\/(github\.com|gitlab\.com)\/[^/]+\/[^/]+/.test(repo);
  const href = forge ? safeUrl(`${repo}/commit/${encodeURIComponent(commit)}`, { allowRelative: false }) : null;
  return href ? html`<a href="${href}" rel="nofollow noopener noreferrer"><code>${commit}</code></a>` : html`<code>${commit}</code>`;
}

export function factRow(term: string, value: HtmlValue): SafeHtml {
  return html`<div class="fact"><dt>${term}</dt><dd>${value}</dd></div>`;
}

/** A URL from a certificate or statement, as a link; `asText` for claims nobody vouched for (the dev trust domain's). */
export function urlFact(url: string | null, options: { asText?: boolean } = {}): SafeHtml {
  if (!url) return html`<span class="muted">not stated</span>`;
  return options.asText ? html`<span class="url">${url}</span>` : externalLink(url, html`<span class="url">${url}</span>`, { allowRelative: false });
}

export function pagination(base: string, params: Record<string, string>, page: number, pages: number): SafeHtml {
  if (pages <= 1) return html``;
  const link = (p: number) => `${base}?${new URLSearchParams({ ...params, page: String(p) }).toString()}`;
  return html`<nav class="pagination" aria-label="Result pages">
    ${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">← Previous</a>` : html`<span class="disabled" aria-hidden="true">← Previous</span>`}
    <span class="page-of">Page ${page} of ${pages}</span>
    ${page < pages ? html`<a href="${link(page + 1)}" rel="next">Next →</a>` : html`<span class="disabled" aria-hidden="true">Next →</span>`}
  </nav>`;
}
