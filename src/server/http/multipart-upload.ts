import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import { CairnError } from '../../errors.ts';
import type { BlobStore, ReceivedBlob } from '../storage/blob-store.ts';
import type { UploadForm } from '../upload/upload-service.ts';

export interface MultipartLimits {
  maxFileBytes: number;
  /** Large enough for a long description or a PEP 740 attestations array. */
  maxFieldBytes: number;
  maxFields: number;
}

/**
 * Streams a twine upload form: the `content` part goes straight to a temp blob while being hashed,
 * other parts are collected as bounded strings. On any failure the temp blob is removed before the
 * error propagates, so nothing of a refused request stays on disk.
 */
export async function readUploadForm(
  body: Readable,
  headers: IncomingHttpHeaders,
  blobs: BlobStore,
  limits: MultipartLimits,
): Promise<UploadForm> {
  const contentType = headers['content-type'];
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) {
    throw new CairnError('upload.malformed', 'Upload must be multipart/form-data with a boundary (as twine sends)');
  }
  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({
      headers: { ...headers, 'content-type': contentType },
      // Keep the client's filename as sent so a path in it is refused, not silently stripped.
      preservePath: true,
      limits: {
        fileSize: limits.maxFileBytes + 1,
        fieldSize: limits.maxFieldBytes,
        fields: limits.maxFields,
        files: 4,
        parts: limits.maxFields + 4,
      },
    });
  } catch (error) {
    throw new CairnError('upload.malformed', `Malformed multipart request: ${(error as Error).message}`);
  }

  const fields = new Map<string, string>();
  // Mutated from parser callbacks; a holder keeps TypeScript's narrowing honest.
  const state: { content: { filename: string; received: Promise<ReceivedBlob>; stream: Readable } | null; problem: CairnError | null } = {
    content: null,
    problem: null,
  };
  const fail = (error: CairnError) => {
    state.problem ??= error;
  };

  const finished = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value, nameTruncated, valueTruncated) => {
      if (nameTruncated || valueTruncated) {
        fail(new CairnError('upload.malformed', `form field '${name}' exceeds ${limits.maxFieldBytes} bytes`));
        return;
      }
      if (fields.has(name) && name !== 'classifiers' && name !== 'requires_dist' && name !== 'project_urls') {
        // Multi-use metadata fields may repeat; for everything else a repeat is ambiguous.
        if (name === 'attestations' || name.endsWith('_digest') || name === 'name' || name === 'version' || name === ':action') {
          fail(new CairnError('upload.malformed', `form field '${name}' appears more than once`));
        }
        return;
      }
      fields.set(name, value);
    });
    parser.on('file', (name, stream, filename) => {
      if (name !== 'content') {
        stream.resume();
        return;
      }
      if (state.content) {
        stream.resume();
        fail(new CairnError('upload.malformed', "the form has more than one 'content' part"));
        return;
      }
      const received = blobs.receive(stream, limits.maxFileBytes);
      // Keep the promise observed: its rejection is read after 'finish'.
      received.catch((error: unknown) => {
        stream.resume();
        fail(error instanceof CairnError ? error : new CairnError('upload.malformed', `reading the file failed: ${String(error)}`));
      });
      state.content = { filename, received, stream };
    });
    parser.on('fieldsLimit', () => fail(new CairnError('upload.malformed', `the form has more than ${limits.maxFields} fields`)));
    parser.on('filesLimit', () => fail(new CairnError('upload.malformed', 'the form has too many file parts')));
    parser.on('partsLimit', () => fail(new CairnError('upload.malformed', 'the form has too many parts')));
    parser.on('finish', resolve);
    parser.on('error', (error: unknown) =>
      reject(new CairnError('upload.malformed', `Malformed multipart request: ${error instanceof Error ? error.message : String(error)}`)),
    );
    body.on('error', (error) => reject(new CairnError('upload.malformed', `the request body was interrupted: ${error.message}`)));
    body.on('aborted', () => reject(new CairnError('upload.malformed', 'the client aborted the upload')));
  });
  body.pipe(parser);

  let blob: ReceivedBlob | null = null;
  try {
    await finished;
    if (state.content) blob = await state.content.received.catch(() => null);
    if (state.problem) throw state.problem;
    if (state.content && !blob) throw new CairnError('upload.malformed', 'the file part could not be read');
  } catch (error) {
    body.unpipe(parser);
    body.resume();
    // A body cut off mid-file (the client vanished, or was cut for sending too slowly) never ends
    // the file part: ending it here lets the blob store remove its temp file.
    if (state.content && !state.content.stream.readableEnded) state.content.stream.destroy(new Error('the request body ended inside the file'));
    const leftover = blob ?? (state.content ? await state.content.received.catch(() => null) : null);
    if (leftover) await blobs.discard(leftover);
    throw error;
  }
  return { fields, content: state.content && blob ? { filename: state.content.filename, blob } : null };
}
