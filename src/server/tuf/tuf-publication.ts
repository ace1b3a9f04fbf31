import { CairnError } from '../../errors.ts';
import type { TufService } from './tuf-repository.ts';

/** What a client is told to wait before asking again while the first metadata is signed. */
export const NOT_READY_RETRY_SECONDS = 10;
/** Keeps timestamp.json fresh on disk for mirrors that copy the directory, even with no traffic. */
const BACKGROUND_REFRESH_MS = 60 * 60 * 1000;

/**
 * The TUF metadata as clients get it: asking for timestamp.json folds in every change committed
 * before the request, waiting for that refresh at most `waitMs`. The first build of a large
 * catalogue signs for minutes (PostgreSQL at 1M files: longer than a load balancer or an idle
 * socket holds a quiet request); it goes on in the background when the wait ends, and until it is
 * published the answer is `tuf.not_ready`.
 */
export class TufPublication {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly tuf: TufService,
    private readonly options: { waitMs: number; logError(error: unknown, message: string): void },
  ) {}

  /** The bytes of `name`, or null when no such metadata is published. */
  async read(name: string): Promise<Buffer | null> {
    if (name === 'timestamp.json') {
      // The published timestamp stays valid until it expires: past the wait, or when the refresh
      // failed, it is the answer.
      let refreshed = false;
      let failure: unknown = null;
      try {
        refreshed = await this.refreshWithin();
      } catch (error) {
        failure = error;
      }
      const published = await this.tuf.readMetadata(name);
      if (failure !== null) {
        if (!published) throw failure;
        this.options.logError(failure, 'TUF refresh failed; serving the published timestamp');
      }
      if (!refreshed && !published) throw notReady();
      return published;
    }
    if (!(await this.tuf.readMetadata('timestamp.json')) && !(await this.refreshWithin())) throw notReady();
    return this.tuf.readMetadata(name);
  }

  /** Refreshes hourly once anything is published, so that timestamp.json never goes stale unasked. */
  startBackgroundRefresh(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void (async () => {
        if (!(await this.tuf.readMetadata('timestamp.json'))) return;
        await this.tuf.refresh();
      })().catch((error: unknown) => this.options.logError(error, 'TUF background refresh failed'));
    }, BACKGROUND_REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** A refresh, waited for at most `waitMs`: whether it finished. */
  private async refreshWithin(): Promise<boolean> {
    const refreshing = this.tuf.refresh();
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.options.waitMs);
    });
    try {
      const finished = await Promise.race([refreshing.then(() => true as const), gaveUp]);
      if (!finished) refreshing.catch((error: unknown) => this.options.logError(error, 'TUF refresh failed'));
      return finished;
    } finally {
      clearTimeout(timer);
    }
  }
}

function notReady(): CairnError {
  return new CairnError('tuf.not_ready', `the index's first TUF metadata is still being signed; ask again in ${NOT_READY_RETRY_SECONDS} s`);
}
