import { projectSurrogateKey, ROOT_SURROGATE_KEY } from './page-caching.ts';
import type { RecordedChange } from './catalogue-changes.ts';

/** Gives up on a cache that does not answer: its pages then age out by s-maxage. */
const PURGE_TIMEOUT_MS = 5000;

/**
 * Tells a shared cache (Varnish, a CDN) that a project's pages changed, after the change
 * committed: one request per URL template and changed project, carrying the project's
 * Surrogate-Key too, for caches that purge by key. Purges run in the background; a failed one
 * is logged, never fails the change (the cache then serves the old page until s-maxage).
 */
export class CachePurge {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly options: { urlTemplates: readonly string[]; method: string; warn(message: string): void },
  ) {}

  changed(changes: readonly RecordedChange[]): void {
    const projects = [...new Set(changes.map((change) => change.normalizedName))];
    const rootChanged = changes.some((change) => change.chunk !== null);
    for (const template of this.options.urlTemplates) {
      if (template.includes('{project}')) {
        for (const project of projects) this.send(template.replaceAll('{project}', encodeURIComponent(project)), projectSurrogateKey(project));
      } else if (rootChanged) {
        this.send(template, ROOT_SURROGATE_KEY);
      }
    }
  }

  private send(url: string, surrogateKey: string): void {
    const purge = fetch(url, { method: this.options.method, headers: { 'Surrogate-Key': surrogateKey }, signal: AbortSignal.timeout(PURGE_TIMEOUT_MS) })
      .then(async (answer) => {
        await answer.body?.cancel();
        if (answer.status >= 400 && answer.status !== 404) this.options.warn(`cache purge ${this.options.method} ${url} answered ${answer.status}`);
      })
      .catch((error: unknown) => this.options.warn(`cache purge ${this.options.method} ${url} failed: ${(error as Error).message}`))
      .finally(() => this.inFlight.delete(purge));
    this.inFlight.add(purge);
  }

  /** Waits for the purges under way (an admin command exits only after its purges went out). */
  async settle(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }
}
