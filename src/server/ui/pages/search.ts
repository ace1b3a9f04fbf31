import type { SearchResults } from '../../pages/catalogue-views.ts';
import { pagination } from '../components.ts';
import { html } from '../../../ui/html.ts';
import { layout, type PageContext } from './layout.ts';

export function searchPage(ctx: PageContext, results: SearchResults): string {
  const pages = Math.max(1, Math.ceil(results.total / results.perPage));
  const first = (results.page - 1) * results.perPage + 1;
  const heading = results.query === '' ? 'Search projects' : html`Results for “${results.query}”`;
  const main = html`
<h1>${heading}</h1>
${
  results.query === ''
    ? html`<p class="muted">Type a project name or words from a project's summary into the search box.</p>`
    : results.total === 0
      ? html`<p>No project matches “${results.query}”.</p>`
      : html`<p class="result-count" role="status">${results.total.toLocaleString('en-US')} project${results.total === 1 ? '' : 's'}${
          pages > 1 ? html`, showing ${first}–${first + results.hits.length - 1}` : ''
        }</p>
<ul class="card-list results">
  ${results.hits.map(
    (hit) => html`<li class="card">
    <h2 class="card-title"><a href="/project/${hit.normalizedName}/">${hit.name}</a>${hit.version ? html` <span class="version">${hit.version}</span>` : ''}</h2>
    ${hit.summary ? html`<p class="card-summary">${hit.summary}</p>` : ''}
  </li>`,
  )}
</ul>
${pagination('/search', { q: results.query }, results.page, pages)}`
}`;
  return layout({ ...ctx, query: results.query }, { title: results.query ? `Search: ${results.query}` : 'Search', main });
}
