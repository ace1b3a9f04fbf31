import { html, type SafeHtml } from '../../../ui/html.ts';

/** What every page needs from the request: where the index lives and the versioned asset URLs. */
export interface PageContext {
  /** Public base URL of the index, for commands readers copy (`pip install --index-url …`). */
  baseUrl: string;
  assets: { css: string; js: string };
  /** The search box's current text. */
  query?: string;
  /** Where the dev trust domain is mounted, when this index trusts it: what it signed is marked. */
  devTrustBase?: string | null;
}

export interface PageContent {
  title: string;
  main: SafeHtml;
  /** Meta description for search engines and link previews. */
  description?: string;
  /** RSS feeds about this page, announced to browsers and feed readers. */
  feeds?: { title: string; href: string }[];
}

export function layout(ctx: PageContext, page: PageContent): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${page.title} · cairn</title>
${page.description ? html`<meta name="description" content="${page.description}">` : ''}
${(page.feeds ?? []).map((f) => html`<link rel="alternate" type="application/rss+xml" title="${f.title}" href="${f.href}">`)}
<link rel="stylesheet" href="${ctx.assets.css}">
<script src="${ctx.assets.js}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
  <div class="wrap header-inner">
    <a class="brand" href="/" aria-label="cairn home"><span class="brand-mark" aria-hidden="true"></span>cairn</a>
    <form class="search-form" role="search" action="/search" method="get">
      <label for="site-search" class="visually-hidden">Search projects</label>
      <input id="site-search" type="search" name="q" value="${ctx.query ?? ''}" placeholder="Search projects" maxlength="100" autocomplete="off">
      <button type="submit">Search</button>
    </form>
  </div>
</header>
<main id="main" class="wrap" tabindex="-1">
${page.main}
</main>
<footer class="site-footer">
  <div class="wrap footer-inner">
    <p>cairn — a Python package index that carries verifiable build provenance from the build to the installer.</p>
    <nav aria-label="Index interfaces"><ul>
      <li><a href="/simple/">Simple index</a></li>
      <li><a href="/rss/updates.xml">Newest releases (RSS)</a></li>
    </ul></nav>
  </div>
</footer>
</body>
</html>
`.value;
}
