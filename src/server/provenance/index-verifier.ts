import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CairnError } from '../../errors.ts';
import type { ReceivedJson } from '../../formats/json-source.ts';
import { parseTrustedRoot, type TrustedRootJson } from '../../trust/trusted-roots.ts';
import { verifierFor, type AttestationVerifier, type VerifierRoots } from '../../trust/verify-attestation.ts';
import type { IndexVerification, VerifiedForIndex } from './attestation-store.ts';

/** Reads `--trusted-root` files; a broken file stops start-up with the file named. */
export function readTrustedRootFiles(paths: string[]): TrustedRootJson[] {
  return paths.map((path) => {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new CairnError('config.invalid', `cannot read trusted root ${path}: ${(error as Error).message}`);
    }
    return parseTrustedRoot(json, path);
  });
}

/**
 * The index's one verifier: the Sigstore public-good root, the operator's extra roots, and roots
 * known only once the server listens (the mounted dev trust domain names its own URL, and
 * sigstore-js matches checkpoint signer names against it). Rebuilt only when a root changes.
 */
export class IndexVerifier {
  private cached: { key: string; verifier: AttestationVerifier } | null = null;

  constructor(
    private readonly staticRoots: VerifierRoots,
    private readonly dynamicRoots: readonly (() => TrustedRootJson)[] = [],
  ) {}

  static forConfig(trustedRootFiles: string[], options: { publicGood?: boolean; dynamicRoots?: (() => TrustedRootJson)[] } = {}): IndexVerifier {
    return new IndexVerifier({ publicGood: options.publicGood, extra: readTrustedRootFiles(trustedRootFiles) }, options.dynamicRoots);
  }

  verifier(): AttestationVerifier {
    // Only the dynamic roots can change; the static ones (public-good is large) stay out of the key.
    const dynamic = this.dynamicRoots.map((r) => r());
    const key = JSON.stringify(dynamic);
    if (this.cached?.key !== key) {
      this.cached = { key, verifier: verifierFor({ ...this.staticRoots, extra: [...(this.staticRoots.extra ?? []), ...dynamic] }) };
    }
    return this.cached.verifier;
  }

  /** Verification of a parsed attestation: what the index would record of it, without its text. */
  readonly verifyForIndex = (attestation: unknown, artifact: { filename: string; sha256: string }): IndexVerification => {
    const verified = this.verifier().verify(attestation, artifact);
    return {
      statementSha256: createHash('sha256').update(verified.statementBytes).digest('hex'),
      facts: verified.facts,
      publisher: null,
    };
  };

  /** The shape the provenance services store: the verification plus the attestation's text exactly as received. */
  readonly verifyReceived = (attestation: ReceivedJson, artifact: { filename: string; sha256: string }): VerifiedForIndex => ({
    ...this.verifyForIndex(attestation.value, artifact),
    receivedText: attestation.text,
  });
}
