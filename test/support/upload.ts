import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseDistributionFilename } from '../../src/formats/dist-filename.ts';
import { encodeMultipart, twineFields, type Part } from './multipart.ts';

/** Uploads one distribution as twine 5+ does (optionally with the PEP 740 `attestations` field). */
export async function uploadFile(
  indexUrl: string,
  path: string,
  authorization: string,
  options: { attestations?: unknown[]; attestationsField?: string } = {},
): Promise<{ status: number; body: { code?: string; message?: string; status?: string; sha256?: string } }> {
  const data = readFileSync(path);
  const filename = basename(path);
  const parsed = parseDistributionFilename(filename);
  const parts: Part[] = [
    ...twineFields({
      name: parsed.project,
      version: parsed.version,
      filetype: filename.endsWith('.whl') ? 'bdist_wheel' : 'sdist',
      sha256: createHash('sha256').update(data).digest('hex'),
    }),
  ];
  const field = options.attestationsField ?? (options.attestations ? JSON.stringify(options.attestations) : undefined);
  if (field !== undefined) parts.push({ name: 'attestations', value: field });
  parts.push({ name: 'content', filename, data });
  const encoded = encodeMultipart(parts);
  const response = await fetch(`${indexUrl}/legacy/`, {
    method: 'POST',
    body: encoded.body,
    headers: { 'Content-Type': encoded.contentType, Authorization: authorization },
  });
  const text = await response.text();
  let body: { code?: string; message?: string; status?: string; sha256?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = { message: text };
  }
  return { status: response.status, body };
}
