import type { HomePageData } from '../../pages/catalogue-views.ts';
import { formatTime } from '../../../ui/format.ts';
import { html } from '../../../ui/html.ts';
import { anySignedByDevTrust, provenanceBadge } from '../components.ts';
import { layout, type PageContext } from './layout.ts';

export function homePage(ctx: PageContext, data: HomePageData): string {
  const { counts, recent } = data;
  const stat = (value: number, label: string) => html`<div class="stat"><dt>${label}</dt><dd>${value.toLocaleString('en-US')}</dd></div>`;
  const main = html`
<section class="hero" aria-labelledby="hero-title">
  <h1 id="hero-title">Python packages whose origin you can check</h1>
  <p class="lead">Every file can carry signed build provenance: which builder made it, from which repository and commit. Verify it with <code>cairn verify</code> against your own policy.</p>
  <form class="hero-search" role="search" action="/search" method="get">
    <label for="hero-search-input">Find a project</label>
    <div class="hero-search-row">
      <input id="hero-search-input" type="search" name="q" placeholder="Project name or words from its summary" maxlength="100">
      <button type="submit">Search</button>
    </div>
  </form>
  <dl class="stats">
    ${stat(counts.projects, 'Projects')}
    ${stat(counts.releases, 'Releases')}
    ${stat(counts.files, 'Files')}
  </dl>
</section>
<section aria-labelledby="recent-title">
  <h2 id="recent-title">Recent uploads</h2>
  ${
    recent.length === 0
      ? html`<p class="muted">Nothing has been uploaded yet. Upload with <code>twine upload --repository-url ${ctx.baseUrl}/legacy/ dist/*</code>.</p>`
      : html`<ul class="card-list">
    ${recent.map(
      (r) => html`<li class="card">
      <h3 class="card-title"><a href="/project/${r.normalizedName}/${r.version}/">${r.name} <span class="version">${r.version}</span></a>${r.yanked ? html` <span class="tag tag-yanked">yanked</span>` : ''}</h3>
      ${r.summary ? html`<p class="card-summary">${r.summary}</p>` : ''}
      <p class="card-meta"><time datetime="${r.createdAt}">${formatTime(r.createdAt)}</time> ${provenanceBadge(r.provenance, { devTrust: anySignedByDevTrust(r.signerIssuers, ctx.devTrustBase) })}</p>
    </li>`,
    )}
  </ul>`
  }
</section>`;
  return layout(ctx, {
    title: 'Home',
    main,
    description: 'A Python package index with verifiable build provenance.',
    feeds: [
      { title: 'Newest releases', href: '/rss/updates.xml' },
      { title: 'Newest projects', href: '/rss/packages.xml' },
    ],
  });
}
