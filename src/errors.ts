/**
 * Every failure cairn reports carries a stable, dotted code. This file is the one place that
 * says what each code means to HTTP clients (status) and to shell users (exit code, DESIGN §9:
 * 0 ok, 1 verification/policy failure, 2 usage error, 3 network/server error).
 */

export type ExitCode = 0 | 1 | 2 | 3;

interface CodeInfo {
  status: number;
  exit: ExitCode;
}

/** Codes grouped by domain. Adding a code means adding it here, nowhere else. */
const CODES = {
  // generic
  'request.malformed': { status: 400, exit: 2 },
  'request.too_large': { status: 413, exit: 2 },
  'request.not_found': { status: 404, exit: 2 },
  'request.method_not_allowed': { status: 405, exit: 2 },
  'request.not_acceptable': { status: 406, exit: 2 },
  'usage.invalid_argument': { status: 400, exit: 2 },
  'config.invalid': { status: 500, exit: 2 },
  'request.wrong_url': { status: 404, exit: 2 },
  'internal.error': { status: 500, exit: 3 },
  'network.error': { status: 502, exit: 3 },
  'server.error': { status: 502, exit: 3 },
  'server.port_in_use': { status: 503, exit: 3 },
  'server.listen_failed': { status: 503, exit: 3 },
  /** The first TUF metadata of a new repository is still being signed (a large catalogue takes minutes). */
  'tuf.not_ready': { status: 503, exit: 3 },

  // the index's storage (cairn serve, cairn admin)
  'storage.not_found': { status: 500, exit: 2 },
  'database.unavailable': { status: 503, exit: 3 },
  /** The disk (or quota) is full: the client did nothing wrong, and may retry once an operator made room. */
  'storage.full': { status: 507, exit: 3 },
  // the blob store (S3-compatible object storage, or the file system)
  'blobstore.unavailable': { status: 503, exit: 3 },
  'blobstore.denied': { status: 500, exit: 2 },
  'blobstore.bucket_missing': { status: 500, exit: 2 },
  'blobstore.failed': { status: 502, exit: 3 },
  'blob.missing': { status: 500, exit: 3 },

  // names, versions, filenames (formats/)
  'name.invalid': { status: 400, exit: 2 },
  'version.invalid': { status: 400, exit: 2 },
  'filename.invalid': { status: 400, exit: 2 },
  'metadata.invalid': { status: 400, exit: 2 },
  /** A new project's name reads like an existing one's (PyPI's ultranormalized comparison). */
  'name.confusable': { status: 400, exit: 2 },

  // auth
  'auth.missing': { status: 401, exit: 2 },
  'auth.invalid_token': { status: 403, exit: 2 },
  'auth.forbidden': { status: 403, exit: 2 },
  'token.not_found': { status: 404, exit: 2 },
  /** A single-use Trusted Publishing token already authorised an upload. */
  'auth.token_used': { status: 403, exit: 2 },

  // projects / index
  'project.not_found': { status: 404, exit: 2 },
  'project.exists': { status: 409, exit: 2 },
  /** A pending trusted publisher waits for this name; only it may create the project. */
  'project.reserved': { status: 403, exit: 2 },
  'release.not_found': { status: 404, exit: 2 },
  'file.not_found': { status: 404, exit: 2 },
  /** PEP 792: a quarantined project's files are not served. */
  'file.quarantined': { status: 403, exit: 1 },

  // upload (POST /legacy/)
  'upload.malformed': { status: 400, exit: 2 },
  'upload.missing_field': { status: 400, exit: 2 },
  'upload.unsupported_action': { status: 400, exit: 2 },
  'upload.digest_mismatch': { status: 400, exit: 2 },
  'upload.filename_mismatch': { status: 400, exit: 2 },
  'upload.too_large': { status: 413, exit: 2 },
  'upload.invalid_archive': { status: 400, exit: 2 },
  'upload.file_exists': { status: 400, exit: 2 },
  'upload.filename_reused': { status: 400, exit: 2 },
  'upload.metadata_mismatch': { status: 400, exit: 2 },
  /** The project requires verified build provenance and none binds to the file (docs/staged-publishing.md). */
  'upload.provenance_required': { status: 400, exit: 1 },

  // publishing sessions (PEP 694 draft; docs/staged-publishing.md)
  'session.malformed': { status: 400, exit: 2 },
  'session.not_found': { status: 404, exit: 2 },
  'session.expired': { status: 410, exit: 2 },
  'session.canceled': { status: 409, exit: 2 },
  'session.published': { status: 409, exit: 2 },
  'session.exists': { status: 409, exit: 2 },
  'session.name_reserved': { status: 403, exit: 2 },
  'session.file_exists': { status: 409, exit: 2 },
  /** Publish refused: `details.missing` lists each file and what it lacks. */
  'session.incomplete': { status: 409, exit: 1 },
  /** PEP 792: archived and quarantined projects take no new files. */
  'upload.project_archived': { status: 400, exit: 2 },
  'upload.project_quarantined': { status: 400, exit: 2 },
  /** The release is older than the configured closing age: no new files (issue 15). */
  'upload.release_closed': { status: 400, exit: 2 },

  // bulk import (cairn admin import): per-file refusals reuse the upload codes where they fit
  'import.outside_directory': { status: 400, exit: 2 },
  'import.unreadable': { status: 400, exit: 2 },
  /** The import finished, but some files were refused (each reported with its own code). */
  'import.files_refused': { status: 400, exit: 1 },

  // attestations and provenance (trust/, services/provenance)
  'attestation.malformed': { status: 400, exit: 1 },
  'attestation.too_large': { status: 413, exit: 1 },
  'attestation.duplicate': { status: 400, exit: 1 },
  'attestation.unknown_predicate': { status: 400, exit: 1 },
  'attestation.publisher_mismatch': { status: 400, exit: 1 },
  'attestation.timestamp_malformed': { status: 400, exit: 1 },
  'provenance.malformed': { status: 400, exit: 1 },
  'provenance.subject_mismatch': { status: 400, exit: 1 },
  'provenance.digest_mismatch': { status: 400, exit: 1 },
  'provenance.signature_invalid': { status: 400, exit: 1 },
  'provenance.untrusted_root': { status: 400, exit: 1 },
  'provenance.certificate_invalid': { status: 400, exit: 1 },
  'provenance.tlog_invalid': { status: 400, exit: 1 },
  'provenance.tlog_missing': { status: 400, exit: 1 },
  'provenance.timestamp_invalid': { status: 400, exit: 1 },
  'provenance.timestamp_untrusted': { status: 400, exit: 1 },
  'provenance.timestamp_outside_validity': { status: 400, exit: 1 },
  'provenance.tlog_digest_not_pae': { status: 400, exit: 1 },
  'provenance.checkpoint_mismatch': { status: 400, exit: 1 },
  'provenance.identity_mismatch': { status: 400, exit: 1 },
  'provenance.predicate_unsupported': { status: 400, exit: 1 },
  'provenance.source_mismatch': { status: 400, exit: 1 },
  'provenance.rate_limited': { status: 429, exit: 1 },
  'provenance.cap_reached': { status: 429, exit: 1 },

  // trusted publishing (OIDC)
  'oidc.malformed_token': { status: 422, exit: 2 },
  'oidc.bad_signature': { status: 422, exit: 2 },
  'oidc.bad_algorithm': { status: 422, exit: 2 },
  'oidc.unknown_key': { status: 422, exit: 2 },
  'oidc.bad_issuer': { status: 422, exit: 2 },
  'oidc.bad_audience': { status: 422, exit: 2 },
  'oidc.expired': { status: 422, exit: 2 },
  'oidc.not_yet_valid': { status: 422, exit: 2 },
  'oidc.replayed': { status: 422, exit: 2 },
  'oidc.no_matching_publisher': { status: 422, exit: 2 },
  'oidc.issuer_unavailable': { status: 503, exit: 3 },
  'oidc.proof_of_possession_invalid': { status: 400, exit: 2 },

  // consumer side
  'policy.invalid': { status: 400, exit: 2 },
  'policy.untrusted_builder': { status: 400, exit: 1 },
  'policy.untrusted_publisher': { status: 400, exit: 1 },
  'policy.missing_provenance': { status: 400, exit: 1 },
  'policy.source_mismatch': { status: 400, exit: 1 },
  'policy.trusts_nobody': { status: 400, exit: 1 },
  'verify.digest_mismatch': { status: 400, exit: 1 },
  'policy.identity_changed': { status: 400, exit: 1 },
  'policy.lock_identity_mismatch': { status: 400, exit: 1 },
  /** The project's PEP 792 status is one the policy refuses (quarantined, deprecated, …). */
  'policy.project_status': { status: 400, exit: 1 },
  /** `cairn verify --vsa`: no Verification Summary Attestation is written for a file that failed. */
  'vsa.not_verified': { status: 400, exit: 1 },
  'verify.not_found': { status: 404, exit: 1 },
  'verify.offline_miss': { status: 400, exit: 3 },
  'lockfile.invalid': { status: 400, exit: 2 },
  'proxy.file_hidden': { status: 403, exit: 1 },
  'proxy.no_digest': { status: 502, exit: 1 },
  /** The upstream index failed, stalled, or sent more than the proxy accepts; the message names the URL. */
  'proxy.upstream_error': { status: 502, exit: 3 },

  // builder
  'build.failed': { status: 500, exit: 1 },
  'build.commit_mismatch': { status: 400, exit: 1 },
  'build.dirty_tree': { status: 400, exit: 1 },
  'build.bad_commit': { status: 400, exit: 2 },
  'build.tool_missing': { status: 500, exit: 2 },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof CODES;

export class CairnError extends Error {
  override readonly name = 'CairnError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function isCairnError(error: unknown): error is CairnError {
  return error instanceof CairnError;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(CODES, code);
}

export function httpStatusFor(code: ErrorCode): number {
  return CODES[code].status;
}

export function exitCodeFor(code: ErrorCode): ExitCode {
  return CODES[code].exit;
}

/**
 * RFC 9457 problem details for an error, the body of the PEP 807 endpoints (and of any new
 * endpoint that wants it): `type` names the cairn code as a URI, `title` is the same for every
 * occurrence of the code, `status` and `detail` as RFC 9457 §3.1 says. Extension members carry the
 * stable `code` and PEP 807's own error shape (`message`, `errors[{code, description}]`), so a
 * client written against either reads it.
 */
export function problemBody(error: CairnError): {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  message: string;
  errors: { code: string; description: string }[];
  details?: Record<string, unknown>;
} {
  return {
    type: `${PROBLEM_TYPE_BASE}${error.code}`,
    title: problemTitle(error.code),
    status: httpStatusFor(error.code),
    detail: error.message,
    code: error.code,
    message: error.message,
    errors: [{ code: error.code, description: error.message }],
    ...(error.details === undefined ? {} : { details: error.details }),
  };
}

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';
/** Problem types are cairn's error codes under this URI (docs/decisions.md). */
export const PROBLEM_TYPE_BASE = 'https://cairn.dev/errors/';

/** A code as a short human title: `oidc.bad_audience` becomes "OIDC: bad audience". */
function problemTitle(code: ErrorCode): string {
  const [domain, name] = code.split('.') as [string, string];
  const area = domain === 'oidc' ? 'OIDC' : domain[0]!.toUpperCase() + domain.slice(1);
  return `${area}: ${name.replace(/_/g, ' ')}`;
}

/** The JSON body every non-legacy route answers an error with (DESIGN §3). */
export function errorBody(error: CairnError): { code: string; message: string; details?: Record<string, unknown> } {
  return error.details === undefined
    ? { code: error.code, message: error.message }
    : { code: error.code, message: error.message, details: error.details };
}
