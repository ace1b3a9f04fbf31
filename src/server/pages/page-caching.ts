import type { ServerConfig } from '../config.ts';

/**
 * How pages may be cached, as PyPI sends them: briefly by browsers and installers (max-age),
 * long by a shared cache or CDN (s-maxage) that is purged on every change of the project, and
 * served stale by that cache while the index is down (stale-if-error).
 */
export function pageCacheControl(caching: ServerConfig['pageCaching']): string {
  return `public, max-age=${caching.maxAgeSeconds}, s-maxage=${caching.sharedMaxAgeSeconds}, stale-if-error=${caching.staleIfErrorSeconds}`;
}

/** The key a CDN purges all of one project's pages by (Fastly's Surrogate-Key; Varnish can ban on it). */
export function projectSurrogateKey(normalizedName: string): string {
  return `project-${normalizedName}`;
}

/** The key of the `/simple/` root, which changes when a project is created or removed. */
export const ROOT_SURROGATE_KEY = 'simple-index';
