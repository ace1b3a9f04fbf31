import { createRequire } from 'node:module';

/**
 * The Sigstore public-good trusted root as shipped inside `@sigstore/tuf` (its TUF seed carries
 * the `trusted_root.json` target, base64). Reading it from the installed package keeps the offline
 * copy in step with the sigstore-js release cairn depends on, with no network and no copy to
 * maintain by hand. This is the only impure piece of src/trust: it resolves a module file.
 */
const PUBLIC_GOOD_MIRROR = 'https://tuf-repo-cdn.sigstore.dev';

let cached: unknown;

export function loadPublicGoodRootJson(): unknown {
  if (cached === undefined) {
    const require = createRequire(import.meta.url);
    const seeds = require('@sigstore/tuf/seeds.json') as Record<string, { targets?: Record<string, string> } | undefined>;
    const encoded = seeds[PUBLIC_GOOD_MIRROR]?.targets?.['trusted_root.json'];
    if (typeof encoded !== 'string') {
      throw new Error(`@sigstore/tuf seeds.json has no trusted_root.json target for ${PUBLIC_GOOD_MIRROR}`);
    }
    cached = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  }
  return structuredClone(cached);
}
