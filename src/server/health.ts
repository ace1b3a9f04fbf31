import { sql, type Kysely } from 'kysely';
import { isCairnError } from '../errors.ts';
import type { BlobStore } from './storage/blob-store.ts';
import type { Database } from './storage/schema.ts';

export interface ComponentHealth {
  status: 'ok' | 'down';
  /** Why it is down (the error's code and message); absent when ok. */
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'down';
  database: ComponentHealth;
  blobs: ComponentHealth;
}

/** A probe that has not answered by then counts as down: a hung dependency must not hang /healthz. */
const PROBE_DEADLINE_MS = 3_000;

function withDeadline(probe: Promise<unknown>, what: string): Promise<ComponentHealth> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ComponentHealth>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'down', error: `${what} did not answer within ${PROBE_DEADLINE_MS} ms` }), PROBE_DEADLINE_MS);
  });
  const outcome = probe.then(
    (): ComponentHealth => ({ status: 'ok' }),
    (error: unknown): ComponentHealth => ({ status: 'down', error: isCairnError(error) ? `[${error.code}] ${error.message}` : String((error as Error).message ?? error) }),
  );
  return Promise.race([outcome, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Readiness of the index (`/healthz`): a query on the database and a write to the blob store.
 * Liveness (`/livez`) touches neither, so an orchestrator does not restart a healthy process
 * because its database is away.
 */
export class IndexHealth {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
  ) {}

  async check(): Promise<HealthReport> {
    const [database, blobs] = await Promise.all([
      withDeadline(sql`select 1`.execute(this.db), 'the database'),
      withDeadline(this.blobs.checkWritable(), 'the blob store'),
    ]);
    return { status: database.status === 'ok' && blobs.status === 'ok' ? 'ok' : 'down', database, blobs };
  }
}
