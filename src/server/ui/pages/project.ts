import type { ProjectPageData, ReleaseHistoryEntry } from '../../pages/catalogue-views.ts';
import { anySignedByDevTrust, copyableCommand, devTrustNotice, factRow, projectStatusNotice, provenanceBadge } from '../components.ts';
import { formatDate } from '../../../ui/format.ts';
import { externalLink, html, type SafeHtml } from '../../../ui/html.ts';
import { renderDescription } from '../../../ui/markdown.ts';
import { layout, type PageContext } from './layout.ts';

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** Project-URL entries (`label, url`), else Home-page; every URL goes through safeUrl. */
export function projectLinks(info: Record<string, unknown>): SafeHtml {
  const urls = info.project_urls;
  const entries: [string, string][] = [];
  if (urls && typeof urls === 'object' && !Array.isArray(urls)) {
    for (const [label, url] of Object.entries(urls as Record<string, unknown>)) if (typeof url === 'string') entries.push([label, url]);
  }
  const home = text(info.home_page);
  if (entries.length === 0 && home) entries.push(['Homepage', home]);
  if (entries.length === 0) return html``;
  return html`<section class="sidebar-section" aria-labelledby="links-title">
  <h2 id="links-title">Links</h2>
  <ul class="link-list">
    ${entries.map(([label, url]) => html`<li><span class="link-label">${label}</span> ${externalLink(url, url, { allowRelative: false })}</li>`)}
  </ul>
</section>`;
}

function metadataFacts(info: Record<string, unknown>): SafeHtml {
  const rows: SafeHtml[] = [];
  const license = text(info.license_expression) ?? text(info.license);
  if (license) rows.push(factRow('License', license.length > 200 ? `${license.slice(0, 200)}…` : license));
  const requiresPython = text(info.requires_python);
  if (requiresPython) rows.push(factRow('Requires Python', html`<code>${requiresPython}</code>`));
  const author = text(info.author) ?? text(info.author_email);
  if (author) rows.push(factRow('Author', author));
  const maintainer = text(info.maintainer) ?? text(info.maintainer_email);
  if (maintainer) rows.push(factRow('Maintainer', maintainer));
  const keywords = text(info.keywords);
  if (keywords) rows.push(factRow('Keywords', keywords));
  if (rows.length === 0) return html``;
  return html`<section class="sidebar-section" aria-labelledby="meta-title"><h2 id="meta-title">Metadata</h2><dl class="facts">${rows}</dl></section>`;
}

function historyRow(projectName: string, r: ReleaseHistoryEntry, latestId: number | undefined, devTrustBase: string | null | undefined): SafeHtml {
  const notable = r.provenance.state !== 'full' && r.provenance.state !== 'none';
  return html`<li class="release-item${r.yanked ? ' is-yanked' : ''}">
  <div class="release-line">
    <a class="release-version" href="/project/${projectName}/${r.version}/">${r.version}</a>
    ${r.id === latestId ? html`<span class="tag tag-latest">latest</span>` : ''}
    ${r.yanked ? html`<span class="tag tag-yanked">yanked</span>` : ''}
    <time datetime="${r.created_at}">${formatDate(r.created_at)}</time>
    ${provenanceBadge(r.provenance, { devTrust: anySignedByDevTrust(r.signerIssuers, devTrustBase) })}
  </div>
  ${r.yanked && r.yanked_reason ? html`<p class="release-note">Yanked: ${r.yanked_reason}</p>` : ''}
  ${notable ? html`<p class="release-note">${r.provenance.explanation}</p>` : ''}
</li>`;
}

export function projectPage(ctx: PageContext, data: ProjectPageData): string {
  const { project, latest, info, releases } = data;
  const name = project.normalized_name;
  const releasesFeed = `/rss/project/${encodeURIComponent(name)}/releases.xml`;
  const summary = latest?.summary ?? text(info.summary);
  // pip skips yanked releases unless pinned exactly (PEP 592): with every release yanked, an
  // unpinned install finds nothing.
  const install = `pip install --index-url ${ctx.baseUrl}/simple/ ${name}${latest?.yanked ? `==${latest.version}` : ''}`;
  const latestDevTrust = latest !== null && anySignedByDevTrust(latest.signerIssuers, ctx.devTrustBase);
  const main = html`
<div class="page-head">
  <div>
    <h1>${project.name}${latest ? html` <span class="version">${latest.version}</span>` : ''}</h1>
    ${summary ? html`<p class="summary">${summary}</p>` : ''}
  </div>
  ${latest ? html`<p class="head-badge">${provenanceBadge(latest.provenance, { devTrust: latestDevTrust })}</p>` : ''}
</div>
${projectStatusNotice(project)}
${latest?.yanked ? html`<p class="notice notice-warning" role="note">Every release of this project is yanked: installers take a yanked release only when it is pinned exactly, as the install command below does.</p>` : ''}
<div class="columns">
  <div class="primary">
    ${
      project.status === 'quarantined'
        ? ''
        : html`<section aria-labelledby="install-title">
      <h2 id="install-title">Install</h2>
      ${copyableCommand(install, 'install command')}
    </section>`
    }
    ${
      latest
        ? html`<section aria-labelledby="provenance-title">
      <h2 id="provenance-title">Provenance of ${latest.version}</h2>
      <p>${provenanceBadge(latest.provenance, { explain: true, devTrust: latestDevTrust })}</p>
      ${latestDevTrust ? devTrustNotice(`The provenance of ${latest.version}`) : ''}
      <p><a href="/project/${name}/${latest.version}/">See files and verified facts for ${latest.version}</a></p>
    </section>`
        : ''
    }
    <section aria-labelledby="description-title">
      <h2 id="description-title">Description</h2>
      ${renderDescription(text(info.description), text(info.description_content_type))}
    </section>
  </div>
  <aside class="sidebar" aria-label="Project details">
    ${projectLinks(info)}
    ${metadataFacts(info)}
    <section class="sidebar-section" aria-labelledby="history-title">
      <h2 id="history-title">Release history <span class="count">(${releases.length})</span></h2>
      ${
        releases.length === 0
          ? html`<p class="muted">No releases yet.</p>`
          : html`<ol class="release-list" reversed>${releases.map((r) => historyRow(name, r, latest?.id, ctx.devTrustBase))}</ol>`
      }
      <p class="muted"><a href="${releasesFeed}">Releases feed (RSS)</a>, with each release's provenance state</p>
    </section>
  </aside>
</div>`;
  return layout(ctx, { title: project.name, main, feeds: [{ title: `${project.name} releases`, href: releasesFeed }], ...(summary ? { description: summary } : {}) });
}
