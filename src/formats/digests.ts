/**
 * The digest spellings cairn accepts, in one place so every surface (upload, provenance
 * submission, lock files, requirements, the blob store, the verifier) refuses the same strings.
 */

/**
 * A sha256 digest as the simple API (PEP 503/691), PEP 740 and in-toto subjects write it: 64
 * lower-case hex characters. Callers that accept upper case (a `--hash` option, a lock file)
 * lower-case first; the stored and compared form is always lower case, so one file never has two
 * spellings of its digest.
 */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

/**
 * A full git commit id: 40 hex (SHA-1) or 64 hex (SHA-256 object format). Abbreviated ids are
 * refused: they name no commit for certain, and provenance must pin its source exactly.
 */
export const GIT_COMMIT_HEX = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function isCommitDigest(value: unknown): value is string {
  return typeof value === 'string' && GIT_COMMIT_HEX.test(value);
}
