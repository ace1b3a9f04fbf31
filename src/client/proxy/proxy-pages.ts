import { escapeHtml } from '../../formats/html-escape.ts';
import { compareVersions } from '../../formats/pep440.ts';
import {
  INDEX_HTML_TAIL,
  renderIndexHtmlEntry,
  renderIndexHtmlHead,
  renderProjectHtml,
  renderProjectJson,
  SIMPLE_API_VERSION,
  SIMPLE_JSON,
  type SimpleFormat,
  type SimpleProject,
} from '../../formats/simple-api.ts';
import type { ProxyProjectView } from './verifying-proxy.ts';

/**
 * The proxy's simple pages, rendered by the index's own PEP 503/691 renderers from the listed
 * files only. URLs are relative to `/simple/{project}/`, so the proxy works behind a path prefix.
 * What installers cannot show — why a file is missing — goes where a person or tool finds it:
 * a visible note on the HTML page and a private (PEP 691: leading underscore) key in the JSON.
 */

export const PROXY_JSON_KEY = '_cairn-proxy';

/** Where the reasons for a project are shown, relative to its simple page. */
export function detailsPathFromSimplePage(project: string): string {
  return `../../project/${encodeURIComponent(project)}/`;
}

export function simpleProjectOf(view: ProxyProjectView): SimpleProject {
  const listed = view.files.filter((f) => f.status === 'listed' && f.sha256 !== null);
  const versions = [...new Set(listed.map((f) => f.version).filter((v): v is string => v !== null))].sort(compareVersions);
  const project = encodeURIComponent(view.project);
  return {
    name: view.name,
    ...(view.status ? { status: view.status } : {}),
    versions,
    files: listed.map((f) => ({
      filename: f.filename,
      url: `../../files/${project}/${f.sha256}/${encodeURIComponent(f.filename)}`,
      sha256: f.sha256!,
      requiresPython: f.requiresPython,
      yanked: f.yanked,
      // Core metadata (PEP 658) is not covered by the provenance, so it is not passed on: pip
      // reads the metadata from the verified distribution itself.
      coreMetadataSha256: null,
      size: f.size,
      uploadTime: f.uploadTime,
      provenanceUrl: f.version ? `../../integrity/${project}/${encodeURIComponent(f.version)}/${encodeURIComponent(f.filename)}/provenance` : null,
    })),
  };
}

function hiddenSummary(view: ProxyProjectView): { hidden: number; total: number } {
  return { hidden: view.files.filter((f) => f.status === 'hidden').length, total: view.files.length };
}

export function renderProxyProjectPage(view: ProxyProjectView, format: SimpleFormat): string {
  const simple = simpleProjectOf(view);
  const { hidden, total } = hiddenSummary(view);
  const details = detailsPathFromSimplePage(view.project);
  if (format === SIMPLE_JSON) {
    const body = JSON.parse(renderProjectJson(simple)) as Record<string, unknown>;
    body[PROXY_JSON_KEY] = { upstream: view.upstreamPageUrl, hidden, total, details };
    return JSON.stringify(body);
  }
  const page = renderProjectHtml(simple);
  if (hidden === 0 && total > 0) return page;
  const what =
    total === 0
      ? `the upstream lists no files for ${view.name}`
      : hidden === total
        ? `none of the ${total} upstream files of ${view.name} passes the policy`
        : `${hidden} of ${total} upstream files of ${view.name} are hidden because they do not pass the policy`;
  const note = `    <p class="cairn-proxy-note">cairn proxy: ${escapeHtml(what)}. Why: <a href="${escapeHtml(details)}">/project/${escapeHtml(view.project)}/</a></p>\n`;
  return page.replace('  </body>', `${note}  </body>`);
}

export function renderProxyIndex(projects: { project: string; name: string }[], format: SimpleFormat): string {
  if (format === SIMPLE_JSON) {
    return JSON.stringify({ meta: { 'api-version': SIMPLE_API_VERSION }, projects: projects.map((p) => ({ name: p.name })), [PROXY_JSON_KEY]: { details: '../../services' } });
  }
  const note =
    '    <p class="cairn-proxy-note">cairn proxy: a project page lists only files whose provenance passes the policy; ' +
    'see <a href="../../services">the proxy\'s overview</a> or /project/NAME/ for what was hidden and why. Projects checked so far:</p>\n';
  return renderIndexHtmlHead() + note + projects.map((p) => renderIndexHtmlEntry(p.name, p.project)).join('') + INDEX_HTML_TAIL;
}
