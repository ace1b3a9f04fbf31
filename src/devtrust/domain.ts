import { join } from 'node:path';
import { DevCertificateAuthority } from './certificate-authority.ts';
import { DevCtLog } from './ct-log.ts';
import { loadOrCreateDevTrustKeys, writeJsonAtomic, type DevTrustKeys } from './keys.ts';
import { DevOidcIssuer } from './oidc-issuer.ts';
import { DevTimestampAuthority } from './timestamp-authority.ts';
import { DevTransparencyLog } from './transparency-log.ts';
import { DOMAIN_FILE, TRUSTED_ROOT_FILE, buildTrustedRoot, lastBaseUrl, type TrustedRootJson } from './trusted-root.ts';

export interface DevTrustDomainOptions {
  stateDir: string;
  /** Absolute URL of the domain (BASE); a function when it is known only once the server listens. */
  baseUrl: string | (() => string);
  /** Clock of the issuer and the CA (tests backdate it to make certificates expire early). */
  clock?: () => Date;
  /** Clock of the transparency log (integrated time); defaults to `clock`. */
  logClock?: () => Date;
  /** Clock of the timestamp authority; defaults to `clock`. */
  tsaClock?: () => Date;
}

/**
 * The dev trust domain (DESIGN §5): an OIDC issuer at BASE/oidc, a Fulcio-style CA at
 * BASE/fulcio, a Rekor v1-style log at BASE/rekor, and for signing the Rekor v2 way a second log
 * at BASE/rekor-v2 (hashedrekord 0.0.2 entries, no signed entry timestamps) with an RFC 3161
 * timestamp authority at BASE/tsa; all over one persisted state directory.
 */
export class DevTrustDomain {
  private recordedBaseUrl: string | undefined;

  constructor(
    readonly stateDir: string,
    readonly keys: DevTrustKeys,
    private readonly resolveBaseUrl: () => string,
    readonly oidc: DevOidcIssuer,
    readonly ca: DevCertificateAuthority,
    readonly log: DevTransparencyLog,
    readonly logV2: DevTransparencyLog,
    readonly tsa: DevTimestampAuthority,
  ) {
    this.recordedBaseUrl = lastBaseUrl(stateDir);
  }

  get baseUrl(): string {
    return this.resolveBaseUrl().replace(/\/+$/, '');
  }

  trustedRoot(): TrustedRootJson {
    return buildTrustedRoot(this.keys, this.baseUrl);
  }

  /** Keeps `trusted_root.json` (and the last BASE) in the state directory current. */
  recordBaseUrl(): void {
    const baseUrl = this.baseUrl;
    if (baseUrl === this.recordedBaseUrl) return;
    writeJsonAtomic(join(this.stateDir, TRUSTED_ROOT_FILE), buildTrustedRoot(this.keys, baseUrl));
    writeJsonAtomic(join(this.stateDir, DOMAIN_FILE), { baseUrl });
    this.recordedBaseUrl = baseUrl;
  }
}

export async function openDevTrustDomain(options: DevTrustDomainOptions): Promise<DevTrustDomain> {
  const clock = options.clock ?? (() => new Date());
  const logClock = options.logClock ?? clock;
  const resolve = typeof options.baseUrl === 'function' ? options.baseUrl : () => options.baseUrl as string;
  const baseUrl = () => resolve().replace(/\/+$/, '');
  const keys = await loadOrCreateDevTrustKeys(options.stateDir, clock());
  const oidc = new DevOidcIssuer(keys.oidc, () => `${baseUrl()}/oidc`, clock);
  const ca = new DevCertificateAuthority(keys.ca, new DevCtLog(keys.ctLog), baseUrl, clock);
  // Rekor signs checkpoints with its host name; verifiers match that name against the log's URL.
  const log = new DevTransparencyLog(options.stateDir, keys.rekor, () => new URL(baseUrl()).hostname, logClock);
  const logV2 = new DevTransparencyLog(options.stateDir, keys.rekorV2, () => new URL(baseUrl()).hostname, logClock, 'log-v2');
  const tsa = new DevTimestampAuthority(keys.tsa, options.tsaClock ?? clock);
  const domain = new DevTrustDomain(options.stateDir, keys, baseUrl, oidc, ca, log, logV2, tsa);
  if (typeof options.baseUrl === 'string') domain.recordBaseUrl();
  return domain;
}
