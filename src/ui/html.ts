import { isolateBidi } from '../formats/bidi.ts';
import { escapeHtml } from '../formats/html-escape.ts';

/**
 * Typed HTML templates that escape by default. Every interpolation in `html\`...\`` is escaped
 * unless it is already a `SafeHtml` (produced by another template or by a renderer that escapes
 * its own input, such as the description renderer). Package metadata is attacker-controlled, so
 * the only way to put markup on a page is through this type.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function renderValue(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(renderValue).join('');
  // Metadata with bidi controls is isolated, so it cannot reorder the page around it (issue 11).
  return escapeHtml(isolateBidi(String(value)));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += renderValue(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Marks markup produced by code that escaped its own input (never metadata as received). */
export function trustedHtml(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

export function joinHtml(parts: readonly HtmlValue[], separator: HtmlValue = ''): SafeHtml {
  const sep = renderValue(separator);
  return new SafeHtml(parts.map(renderValue).join(sep));
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/**
 * The URL if following it can only navigate to an http(s) page, else null. Browsers drop tabs and
 * newlines anywhere in a URL and trim control characters and spaces at its ends (WHATWG URL
 * §basic URL parser), which is how `java\tscript:` and `\x01javascript:` sneak past naive checks;
 * any such character, or a backslash (read as `/` for http URLs), makes the URL unusable here.
 * Relative URLs (no scheme) stay on this site, so they are allowed unless `allowRelative` is false.
 */
export function safeUrl(url: string | null | undefined, options: { allowRelative?: boolean } = {}): string | null {
  if (typeof url !== 'string') return null;
  const trimmed = url.replace(/^ +| +$/g, '');
  if (trimmed === '' || trimmed.length > 2048) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u00a0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2069\u3000\ufeff\\]/.test(trimmed)) return null;
  const scheme = SCHEME.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (options.allowRelative === false) return null;
    // `//host/…` is scheme-relative: absolute, and http(s) only because this site is.
    return trimmed;
  }
  if (scheme !== 'http' && scheme !== 'https') return null;
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return null;
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') return null;
  return parsed.href;
}

/** A link if the URL is safe, otherwise the URL (or label) as inert text. */
export function externalLink(url: string | null | undefined, label?: HtmlValue, options: { allowRelative?: boolean } = {}): SafeHtml {
  const href = safeUrl(url, options);
  const text = label ?? url ?? '';
  if (href === null) return html`<span class="inert-url">${text}</span>`;
  return html`<a href="${href}" rel="nofollow noopener noreferrer">${text}</a>`;
}
