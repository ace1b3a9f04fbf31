import { CairnError } from '../errors.ts';
import { escapeHtml } from './html-escape.ts';
import { projectStatusJson, type ProjectStatus } from './project-status.ts';

/**
 * The simple repository API (PEP 503 HTML, PEP 691 JSON) rendered from plain values. API version
 * 1.1 covers PEP 700 (`versions`, `size`, `upload-time`); 1.3 adds PEP 740 `provenance`; 1.4 adds
 * PEP 792 `project-status`.
 */
export const SIMPLE_API_VERSION = '1.4';

export const SIMPLE_JSON = 'application/vnd.pypi.simple.v1+json';
export const SIMPLE_HTML = 'application/vnd.pypi.simple.v1+html';
export const LEGACY_HTML = 'text/html';
export type SimpleFormat = typeof SIMPLE_JSON | typeof SIMPLE_HTML | typeof LEGACY_HTML;

export interface SimpleFile {
  filename: string;
  url: string;
  sha256: string;
  requiresPython: string | null;
  /** PEP 592: false, or the reason (possibly empty) the release was yanked. */
  yanked: false | string;
  /** Null when the file's core metadata is not served separately (PEP 658); a proxy passes that on. */
  coreMetadataSha256: string | null;
  /** Null only when re-serving an upstream that does not say (PEP 700 makes it mandatory for 1.1+). */
  size: number | null;
  uploadTime: string | null;
  /** PEP 740: URL of the provenance object, or null when the file has none. */
  provenanceUrl: string | null;
}

export interface SimpleProject {
  name: string;
  versions: string[];
  files: SimpleFile[];
  /** PEP 792: absent means the page says nothing (a proxy re-serving an upstream that did not). */
  status?: { status: ProjectStatus; reason: string | null };
}

export function renderProjectJson(project: SimpleProject): string {
  return JSON.stringify({
    meta: { 'api-version': SIMPLE_API_VERSION },
    name: project.name,
    ...(project.status ? { 'project-status': projectStatusJson(project.status.status, project.status.reason) } : {}),
    versions: project.versions,
    files: project.files.map((f) => ({
      filename: f.filename,
      url: f.url,
      hashes: { sha256: f.sha256 },
      'requires-python': f.requiresPython,
      'core-metadata': f.coreMetadataSha256 === null ? false : { sha256: f.coreMetadataSha256 },
      // PEP 714 exists because pip 23.0 crashes on the object form of the PEP 658 JSON key
      // `dist-info-metadata` (Debian 12's venv pip is 23.0.1): only the PEP 714 name is sent.
      yanked: f.yanked === false ? false : f.yanked || true,
      ...(f.size === null ? {} : { size: f.size }),
      ...(f.uploadTime === null ? {} : { 'upload-time': f.uploadTime }),
      provenance: f.provenanceUrl,
    })),
  });
}

export function renderProjectHtml(project: SimpleProject): string {
  const links = project.files.map((f) => {
    let attrs = ` href="${escapeHtml(`${f.url}#sha256=${f.sha256}`)}"`;
    if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    if (f.coreMetadataSha256 !== null) {
      attrs += ` data-dist-info-metadata="sha256=${f.coreMetadataSha256}" data-core-metadata="sha256=${f.coreMetadataSha256}"`;
    }
    if (f.yanked !== false) attrs += ` data-yanked="${escapeHtml(f.yanked)}"`;
    if (f.provenanceUrl) attrs += ` data-provenance="${escapeHtml(f.provenanceUrl)}"`;
    return `    <a${attrs}>${escapeHtml(f.filename)}</a><br />`;
  });
  const title = `Links for ${escapeHtml(project.name)}`;
  const statusMeta = project.status
    ? [
        `    <meta name="pypi:project-status" content="${project.status.status}">`,
        ...(project.status.reason ? [`    <meta name="pypi:project-status-reason" content="${escapeHtml(project.status.reason)}">`] : []),
      ]
    : [];
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    `    <meta name="pypi:repository-version" content="${SIMPLE_API_VERSION}">`,
    ...statusMeta,
    `    <title>${title}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>${title}</h1>`,
    ...links,
    '  </body>',
    '</html>',
    '',
  ].join('\n');
}

export function renderIndexHtmlHead(): string {
  return `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="${SIMPLE_API_VERSION}">\n    <title>Simple index</title>\n  </head>\n  <body>\n`;
}

export function renderIndexHtmlEntry(name: string, normalizedName: string): string {
  return `    <a href="${escapeHtml(normalizedName)}/">${escapeHtml(name)}</a><br />\n`;
}

export const INDEX_HTML_TAIL = '  </body>\n</html>\n';

/** Negotiation that answers 406 (`request.not_acceptable`) when no offered format is acceptable. */
export function requireSimpleFormat(accept: string | undefined, formatParam: string | undefined): SimpleFormat {
  const format = negotiateSimpleFormat(accept, formatParam);
  if (!format) {
    throw new CairnError(
      'request.not_acceptable',
      'none of the requested formats is available: ask for application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html or text/html',
    );
  }
  return format;
}

/**
 * PEP 691 content negotiation: picks the best format the client accepts, honouring q-values;
 * returns null when none is acceptable (answer 406).
 */
export function negotiateSimpleFormat(accept: string | undefined, formatParam: string | undefined): SimpleFormat | null {
  const offered: SimpleFormat[] = [SIMPLE_JSON, SIMPLE_HTML, LEGACY_HTML];
  if (formatParam !== undefined && formatParam !== '') {
    return (offered as string[]).includes(formatParam) ? (formatParam as SimpleFormat) : null;
  }
  if (!accept || accept.trim() === '') return LEGACY_HTML;
  let best: SimpleFormat | null = null;
  let bestQ = 0;
  let bestSpecificity = -1;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.trim().split(';');
    const type = (rawType ?? '').trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k?.trim() === 'q' && v !== undefined) q = Number(v);
    }
    if (!Number.isFinite(q) || q <= 0) continue;
    // For wildcards the server picks: HTML stays the default for browsers and old clients.
    const candidates: SimpleFormat[] =
      type === '*/*' ? [LEGACY_HTML] : type === 'text/*' ? [LEGACY_HTML] : type === 'application/*' ? [SIMPLE_JSON] : offered.filter((o) => o === type);
    const specificity = type.includes('*') ? 0 : 1;
    for (const candidate of candidates) {
      if (q > bestQ || (q === bestQ && specificity > bestSpecificity)) {
        best = candidate;
        bestQ = q;
        bestSpecificity = specificity;
      }
    }
  }
  return best;
}
