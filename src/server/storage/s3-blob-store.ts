import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { CairnError } from '../../errors.ts';
import { isSha256Hex } from '../../formats/digests.ts';
import type { BlobDigests, BlobStore, StagedBlob } from './blob-store.ts';
import { DigestWorkers } from './digest-workers.ts';
import type { S3Location } from './s3-location.ts';
import { TempSpool, type ReceivedBlob } from './temp-spool.ts';

/** Staged blobs uploaded at once by a batch commit: enough to fill the link, few enough for RGW. */
const STAGED_UPLOADS_IN_PARALLEL = 4;

/**
 * Blobs in an S3-compatible bucket under `<prefix>sha256/ab/cd/<sha256>`. An upload is received
 * and checked in a local spool file, then PUT under its content address before the upload's
 * transaction: the object exists before any row references it, and a blob intent row (written
 * first) lets recovery or `cairn admin blobs sweep` remove it when the transaction never commits.
 * A PUT is atomic in S3: a reader sees the whole object or none.
 */
export class S3BlobStore implements BlobStore {
  readonly location: S3Location;
  private readonly client: S3Client;
  private readonly spool: TempSpool;
  private readonly keyPrefix: string;

  constructor(
    location: S3Location,
    private readonly digests: DigestWorkers = new DigestWorkers(),
  ) {
    this.location = location;
    this.keyPrefix = `${location.prefix}sha256/`;
    this.spool = new TempSpool(location.spoolDir, digests);
    this.client = new S3Client({
      region: location.region,
      endpoint: location.endpoint ?? undefined,
      forcePathStyle: location.forcePathStyle,
      // Streaming bodies with a trailing checksum (aws-chunked) are refused by Ceph RGW 16.2 and
      // other S3-compatible servers (411 MissingContentLength); the bytes are verified by
      // Content-MD5 instead, which every S3 implementation checks.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      // A dead endpoint is reported within seconds; a slow transfer is not cut off while bytes flow.
      requestHandler: { connectionTimeout: 3000, requestTimeout: 120_000 },
    });
  }

  /** What operators read in errors and logs. */
  describe(): string {
    return `s3://${this.location.bucket}/${this.location.prefix} at ${this.location.endpoint ?? `AWS ${this.location.region}`}`;
  }

  keyOf(sha256: string): string {
    if (!isSha256Hex(sha256)) throw new CairnError('request.malformed', `not a sha256 digest: ${sha256}`);
    return `${this.keyPrefix}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  /** Start-up check: the endpoint answers, the credentials work, the bucket exists. */
  async verify(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }));
    } catch (error) {
      throw this.failure(error, 'reaching the bucket', { bucketLevel: true });
    }
  }

  /** The local spool takes writes and the bucket answers (`/healthz`). */
  async checkWritable(): Promise<void> {
    await this.spool.checkWritable();
    await this.verify();
  }

  receive(source: Readable, maxBytes: number): Promise<ReceivedBlob> {
    return this.spool.receive(source, maxBytes);
  }

  async commit(blob: ReceivedBlob): Promise<void> {
    await this.put(blob.tempPath, blob);
  }

  private async put(path: string, blob: BlobDigests & { size: number }): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: this.keyOf(blob.sha256),
          Body: createReadStream(path),
          ContentLength: blob.size,
          ContentMD5: Buffer.from(blob.md5, 'hex').toString('base64'),
          ContentType: 'application/octet-stream',
        }),
      );
    } catch (error) {
      throw this.failure(error, `storing blob ${blob.sha256}`);
    }
  }

  discard(blob: ReceivedBlob): Promise<void> {
    return this.spool.discard(blob);
  }

  async stage(bytes: Uint8Array, digests: BlobDigests): Promise<StagedBlob> {
    return { sha256: digests.sha256, md5: digests.md5, blake2b256: digests.blake2b256, size: bytes.length, stageId: this.spool.writeStaged(bytes) };
  }

  async commitStaged(blobs: readonly StagedBlob[]): Promise<void> {
    const queue = blobs.filter((blob) => blob.stageId !== null);
    const uploader = async () => {
      for (let blob = queue.shift(); blob; blob = queue.shift()) {
        const path = this.spool.stagedPath(blob.stageId!);
        await this.put(path, blob);
        await rm(path, { force: true });
      }
    };
    await Promise.all(Array.from({ length: STAGED_UPLOADS_IN_PARALLEL }, uploader));
  }

  async discardStaged(blobs: readonly StagedBlob[]): Promise<void> {
    await Promise.all(blobs.map((blob) => (blob.stageId === null ? undefined : this.spool.discardStaged(blob.stageId))));
  }

  async remove(sha256: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256) }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw this.failure(error, `deleting blob ${sha256}`);
    }
  }

  async exists(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== null;
  }

  async size(sha256: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256) }));
      return head.ContentLength ?? null;
    } catch (error) {
      if (statusOf(error) === 404 && !isNoSuchBucket(error)) return null;
      throw this.failure(error, `looking up blob ${sha256}`);
    }
  }

  async read(sha256: string, range?: { start: number; end: number }): Promise<Readable> {
    try {
      const answer = await this.client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return answer.Body as Readable;
    } catch (error) {
      if (statusOf(error) === 404 && !isNoSuchBucket(error)) {
        throw new CairnError('blob.missing', `the blob store has lost blob ${sha256} (no object ${this.keyOf(sha256)} in ${this.describe()})`, { sha256 });
      }
      throw this.failure(error, `reading blob ${sha256}`);
    }
  }

  async downloadUrl(sha256: string, filename: string): Promise<string | null> {
    const downloads = this.location.downloads;
    if (downloads.mode !== 'redirect') return null;
    const command = new GetObjectCommand({
      Bucket: this.location.bucket,
      Key: this.keyOf(sha256),
      ResponseContentDisposition: `attachment; filename="${filename.replace(/["\\]/g, '_')}"`,
    });
    return await getSignedUrl(this.client, command, { expiresIn: downloads.expiresSeconds });
  }

  async *list(): AsyncIterable<{ sha256: string; written: Date }> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: this.keyPrefix, ContinuationToken: token }));
      } catch (error) {
        throw this.failure(error, 'listing blobs');
      }
      for (const object of page.Contents ?? []) {
        const sha256 = object.Key?.slice(object.Key.lastIndexOf('/') + 1) ?? '';
        if (isSha256Hex(sha256) && object.Key === this.keyOf(sha256)) yield { sha256, written: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  cleanTemp(options: { olderThan?: Date } = {}): Promise<void> {
    return this.spool.clean(options);
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.digests.close();
  }

  /** An S3 error as one of cairn's codes, naming the endpoint and bucket an operator must check. */
  private failure(error: unknown, doing: string, options: { bucketLevel?: boolean } = {}): CairnError {
    if (error instanceof CairnError) return error;
    const where = this.describe();
    const status = statusOf(error);
    const name = (error as { name?: string }).name ?? '';
    const detail = (error as Error).message || name || String(error);
    if (status === undefined || isNetworkError(error)) {
      return new CairnError('blobstore.unavailable', `the S3 endpoint ${this.location.endpoint ?? `(AWS ${this.location.region})`} cannot be reached while ${doing}: ${detail}`, { store: where });
    }
    if (isNoSuchBucket(error) || (options.bucketLevel && status === 404)) {
      return new CairnError('blobstore.bucket_missing', `the bucket '${this.location.bucket}' does not exist at ${this.location.endpoint ?? `AWS ${this.location.region}`} (create it, or fix CAIRN_S3_BUCKET)`, { store: where });
    }
    if (status === 403 || /InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied/.test(name)) {
      return new CairnError('blobstore.denied', `the S3 endpoint ${this.location.endpoint ?? `(AWS ${this.location.region})`} refused the credentials while ${doing} (${name || status}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`, { store: where });
    }
    return new CairnError('blobstore.failed', `the S3 store ${where} failed while ${doing}: ${name} ${detail} (HTTP ${status})`, { store: where });
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isNoSuchBucket(error: unknown): boolean {
  return (error as { name?: string; Code?: string }).name === 'NoSuchBucket' || (error as { Code?: string }).Code === 'NoSuchBucket';
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

function isNetworkError(error: unknown): boolean {
  const e = error as { code?: string; name?: string; cause?: { code?: string } };
  return NETWORK_CODES.has(e.code ?? '') || NETWORK_CODES.has(e.cause?.code ?? '') || e.name === 'TimeoutError';
}
