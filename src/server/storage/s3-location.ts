/**
 * Where an S3-compatible store keeps blobs: structured-cloneable, so a bulk import's worker
 * threads open the same store. Credentials are not part of it: the AWS SDK reads them from the
 * usual variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, …) in every thread.
 */
export interface S3Location {
  kind: 's3';
  bucket: string;
  /** Prepended to every key: several indexes (or environments) may share one bucket. */
  prefix: string;
  /** An S3-compatible endpoint (Ceph RGW, MinIO, …); null for AWS itself. */
  endpoint: string | null;
  region: string;
  /** Bucket in the path (http://host/bucket/key) rather than the host name. */
  forcePathStyle: boolean;
  /** Local directory for uploads in flight (checked before they reach the bucket). */
  spoolDir: string;
  /** Downloads: streamed through cairn, or a redirect to a presigned URL valid this many seconds. */
  downloads: { mode: 'stream' } | { mode: 'redirect'; expiresSeconds: number };
}
