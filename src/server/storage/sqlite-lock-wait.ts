import { setTimeout as sleep } from 'node:timers/promises';
import { CairnError } from '../../errors.ts';

/** How long a statement waits for another connection's write lock before giving up (SQLite's busy_timeout used to be this). */
export const LOCK_WAIT_MS = 5000;

/** SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, … ms between tries; so do we. */
const RETRY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25];

/** SQLITE_BUSY itself: another connection holds the lock. Not SQLITE_BUSY_SNAPSHOT, which no wait can cure. */
export function isSqliteBusy(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'SQLITE_BUSY';
}

/**
 * Runs `attempt` until it does not fail with SQLITE_BUSY, waiting between tries on a timer.
 *
 * better-sqlite3 is synchronous, so SQLite's busy_timeout sleeps on the calling thread: a request
 * whose write met the TUF worker's (or an import's) open transaction froze the whole server for as
 * long as that transaction lasted (the main thread was seen sleeping 1+2+5+10+15 ms in a row
 * beside a TUF refresh). Connections therefore run with busy_timeout 0 and wait here instead,
 * where other requests keep being served. A statement that fails with SQLITE_BUSY changed nothing,
 * and a transaction it ran in is still open, so trying it again is safe.
 */
export async function waitForLock<T>(attempt: () => T | Promise<T>, maxWaitMs = LOCK_WAIT_MS): Promise<T> {
  const started = performance.now();
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isSqliteBusy(error)) throw error;
      const waited = performance.now() - started;
      if (waited >= maxWaitMs) {
        throw new CairnError('database.unavailable', `the SQLite database stayed locked by another writer for ${Math.round(waited)} ms (SQLITE_BUSY); try again`, {
          code: 'SQLITE_BUSY',
        });
      }
      const delay = RETRY_DELAYS_MS[Math.min(tries, RETRY_DELAYS_MS.length - 1)]!;
      await sleep(Math.min(delay, maxWaitMs - waited));
    }
  }
}
