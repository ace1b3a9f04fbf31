import { randomBytes } from 'node:crypto';

export type Part = { name: string; value: string } | { name: string; filename: string; data: Buffer; contentType?: string };

/** Encodes multipart/form-data by hand so tests control every byte (twine's wire format). */
export function encodeMultipart(parts: Part[], boundary = `cairn${randomBytes(8).toString('hex')}`): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`));
    if ('filename' in part) {
      chunks.push(
        Buffer.from(
          `Content-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.contentType ?? 'application/octet-stream'}\r\n\r\n`,
        ),
      );
      chunks.push(part.data);
    } else {
      chunks.push(Buffer.from(`Content-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}`));
    }
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The fields twine sends for one file. */
export function twineFields(meta: { name: string; version: string; filetype: 'bdist_wheel' | 'sdist'; sha256?: string; md5?: string }): Part[] {
  const parts: Part[] = [
    { name: ':action', value: 'file_upload' },
    { name: 'protocol_version', value: '1' },
    { name: 'metadata_version', value: '2.1' },
    { name: 'name', value: meta.name },
    { name: 'version', value: meta.version },
    { name: 'filetype', value: meta.filetype },
    { name: 'pyversion', value: meta.filetype === 'sdist' ? 'source' : 'py3' },
  ];
  if (meta.sha256) parts.push({ name: 'sha256_digest', value: meta.sha256 });
  if (meta.md5) parts.push({ name: 'md5_digest', value: meta.md5 });
  return parts;
}
