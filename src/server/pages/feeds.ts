import { renderRss, type RssItem } from '../../formats/rss.ts';
import type { CatalogueViews } from './catalogue-views.ts';

/** How many items a feed carries, as on PyPI. */
export const FEED_ITEMS = 40;

const releaseUrl = (baseUrl: string, normalizedName: string, version: string) =>
  `${baseUrl}/project/${encodeURIComponent(normalizedName)}/${encodeURIComponent(version)}/`;

/** RSS feeds at PyPI's paths, built from the catalogue's read models. */
export class FeedService {
  constructor(private readonly views: CatalogueViews) {}

  /** `/rss/updates.xml`: the newest releases on the index. */
  async updatesFeed(baseUrl: string): Promise<string> {
    const releases = await this.views.recentReleases(FEED_ITEMS);
    const items: RssItem[] = releases.map((r) => ({
      title: `${r.name} ${r.version}`,
      link: releaseUrl(baseUrl, r.normalizedName, r.version),
      description: [r.summary ?? '', r.yanked ? '(yanked)' : ''].filter(Boolean).join(' '),
      published: new Date(r.createdAt),
      guid: `${r.normalizedName}/${r.version}`,
    }));
    return renderRss(
      { title: 'cairn: newest releases', link: `${baseUrl}/`, description: `The ${FEED_ITEMS} newest releases on this index.`, selfUrl: `${baseUrl}/rss/updates.xml` },
      items,
    );
  }

  /** `/rss/packages.xml`: the newest projects on the index. */
  async packagesFeed(baseUrl: string): Promise<string> {
    const projects = await this.views.newestProjects(FEED_ITEMS);
    const items: RssItem[] = projects.map((p) => ({
      title: `${p.name} added to the index`,
      link: `${baseUrl}/project/${encodeURIComponent(p.normalizedName)}/`,
      description: p.summary ?? '',
      published: new Date(p.createdAt),
      guid: p.normalizedName,
    }));
    return renderRss(
      { title: 'cairn: newest projects', link: `${baseUrl}/`, description: `The ${FEED_ITEMS} newest projects on this index.`, selfUrl: `${baseUrl}/rss/packages.xml` },
      items,
    );
  }

  /**
   * `/rss/project/{name}/releases.xml`: one project's newest releases, each with its provenance
   * state, so a subscriber learns of a release whose builder or publisher changed, or whose
   * provenance was lost, as soon as it appears. Undefined when there is no such project.
   */
  async projectReleasesFeed(baseUrl: string, normalizedName: string): Promise<string | undefined> {
    const data = await this.views.projectPageData(normalizedName);
    if (!data) return undefined;
    const { project } = data;
    // Newest upload first: a backport published after a newer version is news too.
    const newest = [...data.releases].sort((a, b) => b.id - a.id).slice(0, FEED_ITEMS);
    const items: RssItem[] = newest.map((r) => ({
      title: `${project.name} ${r.version}`,
      link: releaseUrl(baseUrl, project.normalized_name, r.version),
      description: [
        r.summary ?? '',
        `Provenance: ${r.provenance.state}. ${r.provenance.explanation}`,
        r.yanked ? `Yanked${r.yanked_reason ? `: ${r.yanked_reason}` : '.'}` : '',
      ]
        .filter(Boolean)
        .join('\n'),
      published: new Date(r.created_at),
      guid: `${project.normalized_name}/${r.version}`,
    }));
    const projectUrl = `${baseUrl}/project/${encodeURIComponent(project.normalized_name)}/`;
    return renderRss(
      {
        title: `cairn: ${project.name} releases`,
        link: projectUrl,
        description: `The newest releases of ${project.name}, with their provenance state.`,
        selfUrl: `${baseUrl}/rss/project/${encodeURIComponent(project.normalized_name)}/releases.xml`,
      },
      items,
    );
  }
}
