import { readFileSync } from 'node:fs';
import { CairnError } from '../../errors.ts';
import { parseTrustedRoot, type TrustedRootJson } from '../../trust/trusted-roots.ts';
import type { VerifyCache } from './disk-cache.ts';

/**
 * The roots `cairn verify` trusts besides the shipped public-good one: each `--trusted-root` (a
 * file, or an http(s) URL such as a dev trust domain's `BASE/trusted_root.json`). Roots fetched
 * by URL are cached, so `--offline` still finds them.
 */
export async function loadExtraRoots(sources: string[], options: { cache: VerifyCache; offline: boolean }): Promise<TrustedRootJson[]> {
  const roots: TrustedRootJson[] = [];
  for (const source of sources) {
    let text: string;
    if (/^https?:\/\//.test(source)) {
      const cached = options.cache.getText('roots', source);
      if (options.offline) {
        if (!cached) throw new CairnError('verify.offline_miss', `--offline: the trusted root ${source} is not in the cache`);
        text = cached.text;
      } else {
        let response: Response;
        try {
          response = await fetch(source, { signal: AbortSignal.timeout(30_000) });
        } catch (error) {
          if (cached) {
            text = cached.text;
            roots.push(parseTrustedRoot(JSON.parse(text), source));
            continue;
          }
          throw new CairnError('network.error', `cannot fetch the trusted root ${source}: ${(error as Error).message}`);
        }
        if (!response.ok) throw new CairnError('network.error', `cannot fetch the trusted root ${source}: HTTP ${response.status}`);
        text = await response.text();
        options.cache.putText('roots', source, text);
      }
    } else {
      try {
        text = readFileSync(source, 'utf8');
      } catch (error) {
        throw new CairnError('usage.invalid_argument', `cannot read trusted root ${source}: ${(error as Error).message}`);
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new CairnError('config.invalid', `trusted root ${source} is not JSON: ${(error as Error).message}`);
    }
    roots.push(parseTrustedRoot(json, source));
  }
  return roots;
}
