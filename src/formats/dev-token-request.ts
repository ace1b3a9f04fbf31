/**
 * What a caller may ask the dev trust domain's issuer to put in a token (GitHub Actions' claim
 * names): the body of its token endpoint, shared by the issuer and the clients that call it.
 */
export interface DevTokenRequest {
  /** `OWNER/REPO`, or a full URL that becomes the certified Source Repository URI as is. */
  repository: string;
  /** The caller's (publishing) workflow: `OWNER/REPO/.github/workflows/FILE@REF`. */
  workflow_ref: string;
  /** The workflow that actually runs (a reusable builder); defaults to `workflow_ref`. */
  job_workflow_ref?: string;
  sha: string;
  ref?: string;
  aud?: string;
  environment?: string;
  run_id?: string;
  run_attempt?: string;
  runner_environment?: string;
  event_name?: string;
  job_workflow_sha?: string;
  workflow_sha?: string;
  sub?: string;
  /** Token lifetime in seconds (default 600, at most 3600). */
  ttl?: number;
}
