import { parentPort, workerData } from 'node:worker_threads';
import { isCairnError } from '../../errors.ts';
import { openDatabase } from '../storage/database.ts';
import type { PostgresTimeouts } from '../storage/postgres-pool.ts';
import { TufRepository, type TufSettings } from './tuf-repository.ts';

/**
 * The TUF repository on a thread of its own: signing thousands of bins and canonicalising large
 * documents never runs on the event loop that serves requests (DESIGN §7).
 */
export interface TufWorkerData {
  databaseUrl: string;
  postgresTimeouts?: PostgresTimeouts | undefined;
  dataDir: string;
  settings: TufSettings;
}

export type TufWorkerReply =
  | { id: number; outcome: Awaited<ReturnType<TufRepository['refresh']>> }
  | { id: number; error: { code: string | null; message: string } }
  | { warning: string };

const data = workerData as TufWorkerData;
const port = parentPort!;
const opened = await openDatabase(data.databaseUrl, { migrate: false, ...(data.postgresTimeouts ? { postgresTimeouts: data.postgresTimeouts } : {}) });
const repository = new TufRepository({
  dataDir: data.dataDir,
  db: opened.db,
  clock: () => new Date(),
  settings: data.settings,
  warn: (warning) => port.postMessage({ warning } satisfies TufWorkerReply),
});

port.on('message', (message: { id: number; type: 'refresh' } | { type: 'close' }) => {
  if (message.type === 'close') {
    void opened.close().finally(() => process.exit(0));
    return;
  }
  repository.refresh().then(
    (outcome) => port.postMessage({ id: message.id, outcome } satisfies TufWorkerReply),
    (error: unknown) =>
      port.postMessage({
        id: message.id,
        error: { code: isCairnError(error) ? error.code : null, message: error instanceof Error ? error.message : String(error) },
      } satisfies TufWorkerReply),
  );
});
