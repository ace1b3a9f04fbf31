import MarkdownIt from 'markdown-it';
import { html, safeUrl, trustedHtml, type SafeHtml } from './html.ts';

/**
 * Renders a project description from core metadata. Descriptions are written by whoever uploads,
 * so raw HTML is never passed through (`html: false` escapes it) and links are limited to
 * http(s), mailto and relative URLs. Markdown is rendered; plain text and reStructuredText are
 * shown as preformatted text, which keeps rST readable without an rST implementation.
 */
const markdown = new MarkdownIt({ html: false, linkify: true, typographer: false });

/** Links in descriptions may go to web pages and mail addresses, nothing that runs code. */
export function isAllowedDescriptionLink(url: string): boolean {
  if (/^mailto:/i.test(url)) {
    // eslint-disable-next-line no-control-regex
    return !/[\u0000-\u0020\u007f]/.test(url);
  }
  return safeUrl(url) !== null;
}

markdown.validateLink = isAllowedDescriptionLink;

// The page owns <h1> and the description sits under an <h2>: its headings start at <h3>.
markdown.core.ruler.push('cairn_demote_headings', (state) => {
  for (const token of state.tokens) {
    if ((token.type === 'heading_open' || token.type === 'heading_close') && /^h[1-6]$/.test(token.tag)) {
      token.tag = `h${Math.min(6, Number(token.tag.slice(1)) + 2)}`;
    }
  }
});

const defaultLinkOpen = markdown.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
markdown.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  // Third-party links in user content get no ranking credit and no window.opener.
  tokens[idx]!.attrSet('rel', 'nofollow ugc noopener noreferrer');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

export type DescriptionFormat = 'markdown' | 'rst' | 'plain';

/** The format named by `Description-Content-Type` (core metadata spec: absent means reStructuredText). */
export function descriptionFormat(contentType: string | null | undefined): DescriptionFormat {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'text/markdown') return 'markdown';
  if (mediaType === 'text/plain') return 'plain';
  return 'rst';
}

/** Large descriptions render once; markdown-it is the most expensive step of a project page. */
const cache = new Map<string, SafeHtml>();
const CACHE_ENTRIES = 256;
const MAX_DESCRIPTION_CHARS = 512 * 1024;

export function renderDescription(text: string | null | undefined, contentType: string | null | undefined): SafeHtml {
  const source = (text ?? '').slice(0, MAX_DESCRIPTION_CHARS);
  if (source.trim() === '') return html`<p class="muted">The project has no description.</p>`;
  const format = descriptionFormat(contentType);
  const key = `${format}\u0000${source}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const rendered =
    format === 'markdown'
      ? trustedHtml(`<div class="description markdown">${markdown.render(source)}</div>`)
      : html`<pre class="description plain">${source}</pre>`;
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, rendered);
  return rendered;
}
