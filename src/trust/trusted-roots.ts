import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial } from '@sigstore/verify';
import { CairnError } from '../errors.ts';
import { loadPublicGoodRootJson } from './public-good-root.ts';

/**
 * Sigstore TrustedRoot (protobuf-JSON, what `TrustedRoot.fromJSON` reads): the CAs, transparency
 * logs, CT logs and timestamp authorities a verifier accepts. Fields beyond these (e.g. Rekor v2's
 * `checkpointKeyId`, `operator`) are kept as they are.
 */
export interface TrustedRootJson {
  mediaType: string;
  tlogs: TransparencyLogInstanceJson[];
  certificateAuthorities: CertificateAuthorityJson[];
  ctlogs: TransparencyLogInstanceJson[];
  timestampAuthorities: CertificateAuthorityJson[];
}

export interface ValidityJson {
  start: string;
  end?: string;
}

export interface TransparencyLogInstanceJson {
  baseUrl: string;
  hashAlgorithm: string;
  publicKey: { rawBytes: string; keyDetails: string; validFor: ValidityJson };
  logId: { keyId: string };
}

export interface CertificateAuthorityJson {
  subject?: { organization?: string; commonName?: string };
  uri: string;
  certChain: { certificates: { rawBytes: string }[] };
  validFor: ValidityJson;
}

const MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.trustedroot';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

class RootShape {
  constructor(private readonly label: string) {}

  fail(message: string): never {
    throw new CairnError('config.invalid', `invalid trusted root${this.label ? ` (${this.label})` : ''}: ${message}`);
  }

  record(value: unknown, where: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(`${where} must be an object`);
    return value as Record<string, unknown>;
  }

  array(value: unknown, where: string): unknown[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) this.fail(`${where} must be an array`);
    return value;
  }

  base64(value: unknown, where: string): void {
    if (typeof value !== 'string' || !BASE64.test(value)) this.fail(`${where} must be non-empty base64`);
  }

  // A missing start must not be read as "valid since forever" (sigstore-conformance
  // trust-root-tlog-missing-validity-start): the spec makes it required.
  validity(value: unknown, where: string): void {
    const v = this.record(value, where);
    if (typeof v.start !== 'string' || Number.isNaN(Date.parse(v.start))) this.fail(`${where}.start must be an RFC 3339 time`);
    // protobuf-JSON writes an absent end as null or leaves it out: open-ended.
    if (v.end !== undefined && v.end !== null && (typeof v.end !== 'string' || Number.isNaN(Date.parse(v.end)))) this.fail(`${where}.end must be an RFC 3339 time`);
  }

  log(value: unknown, where: string): void {
    const log = this.record(value, where);
    if (typeof log.baseUrl !== 'string' || log.baseUrl === '') this.fail(`${where}.baseUrl is missing`);
    const key = this.record(log.publicKey, `${where}.publicKey`);
    this.base64(key.rawBytes, `${where}.publicKey.rawBytes`);
    if (typeof key.keyDetails !== 'string') this.fail(`${where}.publicKey.keyDetails is missing`);
    this.validity(key.validFor, `${where}.publicKey.validFor`);
    this.base64(this.record(log.logId, `${where}.logId`).keyId, `${where}.logId.keyId`);
  }

  authority(value: unknown, where: string): void {
    const ca = this.record(value, where);
    const chain = this.array(this.record(ca.certChain, `${where}.certChain`).certificates, `${where}.certChain.certificates`);
    if (chain.length === 0) this.fail(`${where}.certChain has no certificates`);
    chain.forEach((c, i) => this.base64(this.record(c, `${where}.certChain.certificates[${i}]`).rawBytes, `${where}.certChain.certificates[${i}].rawBytes`));
    this.validity(ca.validFor, `${where}.validFor`);
  }
}

/**
 * Validates a trusted root's shape (and that sigstore-js can build trust material from it) and
 * returns it with absent lists normalised to empty ones. `label` names the source in errors.
 */
export function parseTrustedRoot(json: unknown, label = ''): TrustedRootJson {
  const shape = new RootShape(label);
  const root = shape.record(json, 'the document');
  if (typeof root.mediaType !== 'string' || !root.mediaType.startsWith(MEDIA_TYPE_PREFIX)) {
    shape.fail(`mediaType must start with ${MEDIA_TYPE_PREFIX}, got ${JSON.stringify(root.mediaType ?? null)}`);
  }
  const lists = {
    tlogs: shape.array(root.tlogs, 'tlogs'),
    certificateAuthorities: shape.array(root.certificateAuthorities, 'certificateAuthorities'),
    ctlogs: shape.array(root.ctlogs, 'ctlogs'),
    timestampAuthorities: shape.array(root.timestampAuthorities, 'timestampAuthorities'),
  };
  lists.tlogs.forEach((t, i) => shape.log(t, `tlogs[${i}]`));
  lists.ctlogs.forEach((t, i) => shape.log(t, `ctlogs[${i}]`));
  lists.certificateAuthorities.forEach((c, i) => shape.authority(c, `certificateAuthorities[${i}]`));
  lists.timestampAuthorities.forEach((c, i) => shape.authority(c, `timestampAuthorities[${i}]`));
  if (lists.certificateAuthorities.length === 0 && lists.timestampAuthorities.length === 0 && lists.tlogs.length === 0) {
    shape.fail('it trusts nothing (no certificate authorities, transparency logs or timestamp authorities)');
  }
  const parsed = structuredClone({ ...root, ...lists }) as unknown as TrustedRootJson;
  try {
    toTrustMaterial(TrustedRoot.fromJSON(parsed));
  } catch (error) {
    shape.fail(`sigstore cannot use it: ${(error as Error).message}`);
  }
  return parsed;
}

/**
 * One root holding every CA, log, CT log and timestamp authority of the given roots (an exact
 * duplicate entry, e.g. the public-good root configured twice, is kept once).
 */
export function mergeTrustedRoots(roots: TrustedRootJson[]): TrustedRootJson {
  const first = roots[0];
  if (!first) throw new CairnError('config.invalid', 'no trusted roots configured: nothing could ever verify');
  const union = <T>(pick: (r: TrustedRootJson) => T[]): T[] => {
    const seen = new Set<string>();
    const out: T[] = [];
    for (const root of roots) {
      for (const item of pick(root)) {
        const key = JSON.stringify(item);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(structuredClone(item));
      }
    }
    return out;
  };
  return {
    mediaType: first.mediaType,
    tlogs: union((r) => r.tlogs),
    certificateAuthorities: union((r) => r.certificateAuthorities),
    ctlogs: union((r) => r.ctlogs),
    timestampAuthorities: union((r) => r.timestampAuthorities),
  };
}

let publicGood: TrustedRootJson | undefined;

/** The Sigstore public-good trusted root, offline (from the installed @sigstore/tuf seed); parsed once, a copy per call. */
export function publicGoodTrustedRoot(): TrustedRootJson {
  publicGood ??= parseTrustedRoot(loadPublicGoodRootJson(), 'Sigstore public-good');
  return structuredClone(publicGood);
}
