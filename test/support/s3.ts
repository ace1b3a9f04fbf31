import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CreateBucketCommand, DeleteObjectCommand, DeleteObjectsCommand, ListObjectsV2Command, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Location } from '../../src/server/storage/s3-location.ts';
import type { S3Endpoint } from './rgw.ts';

/** An SDK client of the test's own, for setting up buckets and tampering behind cairn's back. */
export function testS3Client(s3: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function createBucket(s3: S3Endpoint): Promise<string> {
  const bucket = `cairn-test-${randomBytes(5).toString('hex')}`;
  const client = testS3Client(s3);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return bucket;
}

export async function emptyAndDeleteBucket(s3: S3Endpoint, bucket: string): Promise<void> {
  const client = testS3Client(s3);
  try {
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

export async function deleteObject(s3: S3Endpoint, bucket: string, key: string): Promise<void> {
  const client = testS3Client(s3);
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  client.destroy();
}

export async function listKeys(s3: S3Endpoint, bucket: string): Promise<string[]> {
  const client = testS3Client(s3);
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  client.destroy();
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

/** The variables `cairn serve` reads to use this bucket (credentials the AWS SDK's usual way). */
export function s3Env(s3: S3Endpoint, bucket: string, options: { prefix?: string; endpoint?: string } = {}): Record<string, string> {
  return {
    CAIRN_BLOB_STORE: `s3://${bucket}/${options.prefix ?? 'idx'}`,
    CAIRN_S3_ENDPOINT: options.endpoint ?? s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
  };
}

export function s3Location(s3: S3Endpoint, bucket: string, spoolDir: string, prefix = 'contract/'): S3Location {
  return { kind: 's3', bucket, prefix, endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, spoolDir, downloads: { mode: 'stream' } };
}

/**
 * A TCP relay in front of the S3 endpoint that a test can break: `cutAfter(n)` drops every
 * connection once n more bytes went towards the server and refuses new ones until `heal()`, as
 * a crashed or partitioned object store does to a client.
 */
export class BreakableRelay {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private broken = false;
  private budget = Infinity;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      if (this.broken) return client.destroy();
      const upstream = connect(target.port, target.host);
      this.sockets.add(client).add(upstream);
      const forget = () => {
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      client.on('data', (chunk: Buffer) => {
        this.budget -= chunk.length;
        if (this.budget <= 0) return this.breakNow();
        upstream.write(chunk);
      });
      upstream.pipe(client);
      client.on('close', forget).on('error', forget);
      upstream.on('close', forget).on('error', forget);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }

  cutAfter(bytes: number): void {
    this.budget = bytes;
  }

  breakNow(): void {
    this.broken = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  heal(): void {
    this.broken = false;
    this.budget = Infinity;
  }

  async close(): Promise<void> {
    this.breakNow();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
