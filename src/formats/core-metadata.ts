import { CairnError } from '../errors.ts';

/** Fields the core metadata specification allows more than once. */
const MULTIPLE_USE = new Set(
  [
    'Platform', 'Supported-Platform', 'Classifier', 'Requires-Dist', 'Requires-External', 'Project-URL',
    'Provides-Extra', 'Provides-Dist', 'Obsoletes-Dist', 'Dynamic', 'License-File', 'Import-Name', 'Import-Namespace',
  ].map((f) => f.toLowerCase()),
);

export interface CoreMetadata {
  metadataVersion: string;
  name: string;
  version: string;
  summary?: string;
  requiresPython?: string;
  description?: string;
  descriptionContentType?: string;
  /** Every header by lowercased field name, in file order. */
  fields: Map<string, string[]>;
}

const MAX_METADATA_FIELDS = 10_000;

function invalid(why: string): never {
  throw new CairnError('metadata.invalid', `Invalid core metadata: ${why}`);
}

/**
 * Parses the email-header format of METADATA / PKG-INFO (core metadata spec): `Name: value`
 * headers with indented continuation lines, then an optional body holding the description.
 */
export function parseCoreMetadata(text: string): CoreMetadata {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const fields = new Map<string, string[]>();
  let current: { key: string; value: string } | null = null;
  let bodyStart = -1;
  let count = 0;
  const flush = () => {
    if (!current) return;
    const list = fields.get(current.key) ?? [];
    list.push(current.value);
    fields.set(current.key, list);
    current = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') {
      flush();
      bodyStart = i + 1;
      break;
    }
    if (/^[ \t]/.test(line)) {
      if (!current) invalid(`line ${i + 1} continues a header that does not exist`);
      (current as { value: string }).value += `\n${line}`;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0) invalid(`line ${i + 1} is not a 'Field: value' header`);
    if (++count > MAX_METADATA_FIELDS) invalid('too many header fields');
    current = { key: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() };
  }
  flush();

  const single = (key: string): string | undefined => {
    const values = fields.get(key);
    if (values && values.length > 1 && !MULTIPLE_USE.has(key)) invalid(`'${key}' appears ${values.length} times`);
    return values?.[0];
  };
  const metadataVersion = single('metadata-version');
  const name = single('name');
  const version = single('version');
  if (!metadataVersion) invalid("the required field 'Metadata-Version' is missing");
  if (!name) invalid("the required field 'Name' is missing");
  if (!version) invalid("the required field 'Version' is missing");

  let description = single('description');
  if (description !== undefined) description = unfoldDescription(description);
  if (bodyStart >= 0 && bodyStart < lines.length) {
    const body = lines.slice(bodyStart).join('\n');
    if (body.trim() !== '') description = body;
  }
  const summary = single('summary');
  const requiresPython = single('requires-python');
  const descriptionContentType = single('description-content-type');
  return {
    metadataVersion,
    name,
    version,
    ...(summary !== undefined ? { summary } : {}),
    ...(requiresPython !== undefined ? { requiresPython } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(descriptionContentType !== undefined ? { descriptionContentType } : {}),
    fields,
  };
}

/**
 * Older tools fold the description header with a `       |` (setuptools) or an 8-space
 * (distutils) continuation prefix. Only one prefix comes off: what follows it is content, so an
 * indented code block after `       |` keeps its indentation.
 */
function unfoldDescription(value: string): string {
  return value
    .split('\n')
    .map((line, i) => (i === 0 ? line : line.startsWith('       |') ? line.slice(8) : line.replace(/^ {8}/, '')))
    .join('\n');
}

/** The `info` object of PyPI's JSON API, derived from core metadata. */
export function coreMetadataToJsonInfo(m: CoreMetadata): Record<string, unknown> {
  const one = (key: string) => m.fields.get(key)?.[0] ?? null;
  const many = (key: string) => m.fields.get(key) ?? null;
  const projectUrls: Record<string, string> = {};
  for (const entry of m.fields.get('project-url') ?? []) {
    const comma = entry.indexOf(',');
    if (comma > 0) projectUrls[entry.slice(0, comma).trim()] = entry.slice(comma + 1).trim();
  }
  const homePage = one('home-page');
  return {
    author: one('author') ?? '',
    author_email: one('author-email') ?? '',
    classifiers: many('classifier') ?? [],
    description: m.description ?? '',
    description_content_type: m.descriptionContentType ?? null,
    download_url: one('download-url') ?? '',
    dynamic: many('dynamic'),
    home_page: homePage ?? '',
    keywords: one('keywords') ?? '',
    license: one('license') ?? '',
    license_expression: one('license-expression'),
    license_files: many('license-file'),
    maintainer: one('maintainer') ?? '',
    maintainer_email: one('maintainer-email') ?? '',
    metadata_version: m.metadataVersion,
    platform: one('platform'),
    project_urls: Object.keys(projectUrls).length > 0 ? projectUrls : homePage ? { Homepage: homePage } : null,
    provides_extra: many('provides-extra'),
    requires_dist: many('requires-dist'),
    requires_python: m.requiresPython ?? '',
    summary: m.summary ?? '',
  };
}
