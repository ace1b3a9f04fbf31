/**
 * How long each role's metadata stays valid, in seconds. PEP 458 ("Metadata Expiry Times"): root,
 * targets and bins change rarely and expire after a year; timestamp expires after a day so a
 * mirror or CDN that stops syncing is noticed. cairn signs the snapshot for a week and the bin-n
 * roles for a year: the timestamp (one day) pins the snapshot by hash and the snapshot pins every
 * bin version, so freshness is already bounded by the timestamp, and long-lived bins spare the
 * index from re-signing every bin each day (docs/tuf.md).
 */
export interface TufExpiryPolicy {
  root: number;
  targets: number;
  bins: number;
  binN: number;
  snapshot: number;
  timestamp: number;
}

const DAY = 24 * 3600;

export const DEFAULT_EXPIRY_POLICY: TufExpiryPolicy = {
  root: 365 * DAY,
  targets: 365 * DAY,
  bins: 365 * DAY,
  binN: 365 * DAY,
  snapshot: 7 * DAY,
  timestamp: DAY,
};

/** TUF's `expires` format: ISO 8601 UTC without fractional seconds (`2030-01-01T00:00:00Z`). */
export function tufExpiry(now: Date, lifetimeSeconds: number): string {
  const whole = Math.floor(now.getTime() / 1000) * 1000 + lifetimeSeconds * 1000;
  return new Date(whole).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Metadata is re-signed once less than half its lifetime remains, so a copy taken by a mirror at
 * any moment stays valid for at least half a lifetime (a day-old timestamp copy: 12 hours).
 */
export function needsRenewal(expires: string, now: Date, lifetimeSeconds: number): boolean {
  return new Date(expires).getTime() - now.getTime() < (lifetimeSeconds * 1000) / 2;
}
