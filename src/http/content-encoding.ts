/**
 * Whether a response may be sent gzip-compressed, from the request's `Accept-Encoding`
 * (RFC 9110 §12.5.3): `gzip` (or its alias `x-gzip`) with a non-zero weight, or `*` with a
 * non-zero weight when gzip is not named. No field means any coding is acceptable, but clients
 * that send none are mostly scripts reading bytes, so they get identity (as nginx and PyPI's CDN do).
 */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  const field = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding;
  let gzip: number | null = null;
  let any: number | null = null;
  for (const part of field.split(',')) {
    const [rawCoding, ...params] = part.trim().split(';');
    const coding = (rawCoding ?? '').trim().toLowerCase();
    if (coding === '') continue;
    let weight = 1;
    for (const param of params) {
      const [name, value] = param.split('=');
      if (name?.trim().toLowerCase() === 'q' && value !== undefined) weight = Number(value.trim());
    }
    if (!Number.isFinite(weight)) weight = 0;
    if (coding === 'gzip' || coding === 'x-gzip') gzip = Math.max(gzip ?? 0, weight);
    else if (coding === '*') any = weight;
  }
  if (gzip !== null) return gzip > 0;
  return any !== null && any > 0;
}
