import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The real-world vectors (Sigstore bundles, PEP 740 attestations, trust roots) live next to the
 * checkout in `../shared/vectors`, never inside the repository. CAIRN_VECTORS_DIR points
 * elsewhere (a clone made outside the workplace folder).
 */
export const VECTORS_DIR = resolve(process.env.CAIRN_VECTORS_DIR ?? new URL('../../../shared/vectors', import.meta.url).pathname);

export const VECTORS_URL = new URL(`file://${VECTORS_DIR}/`);

export function haveVectors(probe = 'README.md'): boolean {
  return existsSync(resolve(VECTORS_DIR, probe));
}
