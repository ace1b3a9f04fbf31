import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import { CairnError, isErrorCode } from '../../errors.ts';
import { packageTypeOf, parseDistributionFilename } from '../../formats/dist-filename.ts';
import { bundleToAttestation } from '../../formats/pep740.ts';
import { IN_TOTO_STATEMENT_V1, PYPI_PUBLISH_V1 } from '../../formats/slsa-provenance.ts';
import { indexUrl } from '../index-client.ts';
import { digestFile } from '../builder/python-build.ts';
import { signStatement, type SigstoreEndpoints } from '../signing.ts';

export interface PublishProgress {
  (event: { filename: string; sent: number; total: number } | { filename: string; done: 'created' | 'identical' }): void;
}

/** A PEP 740 publish attestation statement: the file, by name and digest, from this publisher. */
export function publishStatement(filename: string, sha256: string): Record<string, unknown> {
  return { _type: IN_TOTO_STATEMENT_V1, subject: [{ name: filename, digest: { sha256 } }], predicateType: PYPI_PUBLISH_V1, predicate: {} };
}

export async function attestForPublish(path: string, signingToken: string, endpoints: SigstoreEndpoints): Promise<unknown> {
  const filename = basename(path);
  const { sha256 } = await digestFile(path);
  const bundle = await signStatement(publishStatement(filename, sha256), signingToken, endpoints);
  return bundleToAttestation(bundle);
}

/**
 * Uploads one distribution as twine does (multipart `POST /legacy/`), streaming the file, with
 * optional PEP 740 attestations.
 */
export async function uploadDistribution(
  index: string,
  token: string,
  path: string,
  options: { attestations?: unknown[]; progress?: PublishProgress; /** A publishing session's `links.upload` instead of `/legacy/`. */ uploadUrl?: string } = {},
): Promise<'created' | 'identical'> {
  const filename = basename(path);
  const parsed = parseDistributionFilename(filename);
  const { sha256, size } = await digestFile(path);
  const boundary = `cairn-${randomBytes(12).toString('hex')}`;
  const field = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  let head =
    field(':action', 'file_upload') +
    field('protocol_version', '1') +
    field('name', parsed.project) +
    field('version', parsed.version) +
    field('filetype', packageTypeOf(parsed)) +
    field('pyversion', parsed.kind === 'sdist' ? 'source' : (parsed.tags?.python.join('.') ?? 'py3')) +
    field('sha256_digest', sha256);
  if (options.attestations && options.attestations.length > 0) head += field('attestations', JSON.stringify(options.attestations));
  head += `--${boundary}\r\nContent-Disposition: form-data; name="content"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const total = Buffer.byteLength(head) + size + Buffer.byteLength(tail);
  const url = new URL(options.uploadUrl ?? indexUrl(index, '/legacy/'));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;

  const answer = await new Promise<{ status: number; reason: string; body: string }>((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: {
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': total,
        Authorization: `Basic ${Buffer.from(`__token__:${token}`).toString('base64')}`,
      },
    });
    const file = createReadStream(path);
    let answered = false;
    req.on('error', (error) => {
      file.destroy();
      // A server that refused early may cut the body off; its answer, once here, is what counts.
      if (!answered) reject(new CairnError('network.error', `uploading ${filename} to ${url.origin} failed: ${error.message}`));
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? '', body }));
    });
    req.write(head);
    let sent = Buffer.byteLength(head);
    file.on('data', (chunk) => {
      sent += chunk.length;
      options.progress?.({ filename, sent, total });
      if (!req.write(chunk)) {
        file.pause();
        req.once('drain', () => file.resume());
      }
    });
    file.on('error', (error) => reject(new CairnError('usage.invalid_argument', `cannot read ${path}: ${error.message}`)));
    file.on('end', () => req.end(tail));
  });
  if (answer.status === 200) {
    const status = (JSON.parse(answer.body || '{}') as { status?: string }).status === 'identical' ? 'identical' : 'created';
    options.progress?.({ filename, done: status });
    return status;
  }
  let code: string | undefined;
  try {
    code = (JSON.parse(answer.body) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  const message = `upload of ${filename} refused: HTTP ${answer.status} ${answer.reason}`;
  throw new CairnError(code && isErrorCode(code) ? code : answer.status >= 500 ? 'server.error' : 'request.malformed', message);
}

export async function assertDistributionFiles(paths: string[]): Promise<void> {
  if (paths.length === 0) throw new CairnError('usage.invalid_argument', 'name at least one distribution file to publish');
  for (const path of paths) {
    parseDistributionFilename(basename(path));
    await stat(path).catch(() => {
      throw new CairnError('usage.invalid_argument', `no such file: ${path}`);
    });
  }
}
