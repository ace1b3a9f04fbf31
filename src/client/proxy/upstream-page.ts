import { fetchProjectPage, type FetchOptions, type IndexFile, type IndexProject } from '../verify/index-fetch.ts';

/**
 * The upstream project page as the proxy re-serves it. `fetchProjectPage` (shared with
 * `cairn verify`) fetches and caches the PEP 691 JSON page and reads what verification needs;
 * the proxy also passes on the keys installers choose by (`requires-python`, the yank reason,
 * PEP 700 `size` and `upload-time`), read here from the same cached page text.
 */

export interface UpstreamFile extends IndexFile {
  requiresPython: string | null;
  /** PEP 592: false, or the reason (possibly empty). */
  yankedReason: false | string;
  size: number | null;
  uploadTime: string | null;
}

export interface UpstreamProject {
  /** The display name the upstream gives (falls back to the normalised name). */
  name: string;
  pageUrl: string;
  files: UpstreamFile[];
  /** PEP 792 status as the upstream reports it, passed on to installers. */
  status?: IndexProject['status'];
}

interface PageExtras {
  requiresPython: string | null;
  yankedReason: false | string;
  size: number | null;
  uploadTime: string | null;
}

function extrasByFilename(text: string | undefined): Map<string, PageExtras> {
  const out = new Map<string, PageExtras>();
  if (text === undefined) return out;
  let body: { files?: unknown };
  try {
    body = JSON.parse(text) as { files?: unknown };
  } catch {
    return out;
  }
  if (!Array.isArray(body.files)) return out;
  for (const entry of body.files) {
    const f = entry as Record<string, unknown>;
    if (typeof f.filename !== 'string') continue;
    const yanked = f.yanked;
    out.set(f.filename, {
      requiresPython: typeof f['requires-python'] === 'string' && f['requires-python'] !== '' ? f['requires-python'] : null,
      yankedReason: typeof yanked === 'string' ? yanked : yanked === true ? '' : false,
      size: typeof f.size === 'number' && Number.isSafeInteger(f.size) && f.size >= 0 ? f.size : null,
      uploadTime: typeof f['upload-time'] === 'string' ? f['upload-time'] : null,
    });
  }
  return out;
}

export async function fetchUpstreamProject(upstream: string, project: string, options: FetchOptions): Promise<UpstreamProject> {
  const page = await fetchProjectPage(upstream, project, options);
  // fetchProjectPage has just written (or read) this page in the cache; the same text carries the extras.
  const extras = extrasByFilename(options.cache.getText('pages', page.pageUrl)?.text);
  return {
    name: page.name || project,
    pageUrl: page.pageUrl,
    ...(page.status ? { status: page.status } : {}),
    files: page.files.map((file) => {
      const extra = extras.get(file.filename);
      return {
        ...file,
        requiresPython: extra?.requiresPython ?? null,
        yankedReason: extra?.yankedReason ?? (file.yanked ? '' : false),
        size: extra?.size ?? null,
        uploadTime: extra?.uploadTime ?? null,
      };
    }),
  };
}
