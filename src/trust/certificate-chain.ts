import { createPublicKey, type KeyObject, type X509Certificate as NativeCertificate } from 'node:crypto';
import type { X509Certificate } from '@sigstore/core';
import { VerificationError, type TrustMaterial } from '@sigstore/verify';

/**
 * Certificate path validation for keyless bundles, with the trusted part done once. sigstore-js
 * rebuilds and re-verifies the whole path (leaf → intermediate → root, root self-signature) for
 * every bundle, re-encoding each certificate to DER several times and re-importing each CA key;
 * with thousands of bundles under the same CA that dominates verification time. Here each trusted
 * CA's own chain is built and verified once per verifier, its keys imported once, and per bundle
 * only the leaf is checked: one signature (native X.509 verify over the leaf's original DER),
 * validity at the signing time, and the same path rules as sigstore-js (issuer found by authority
 * / subject key id or name, intermediates are CAs, name chaining, pathLenConstraint).
 */

type CertAuthority = TrustMaterial['certificateAuthorities'][number];

interface Anchor {
  cert: X509Certificate;
  key: KeyObject;
  subject: Buffer;
  issuer: Buffer;
  subjectKeyId: Buffer | null;
  authorityKeyId: Buffer | null;
  isCA: boolean;
  pathLen: number | undefined;
  notBefore: Date;
  notAfter: Date;
}

interface CaState {
  anchors: Anchor[];
  /** Per anchor: its shortest verified path to a self-signed root inside the CA's chain, or why there is none. */
  pathTo: Map<Anchor, Anchor[] | VerificationError>;
}

function certificateError(message: string, cause?: unknown): VerificationError {
  return new VerificationError({ code: 'CERTIFICATE_ERROR', message, ...(cause !== undefined ? { cause } : {}) });
}

function anchorOf(cert: X509Certificate): Anchor {
  const constraints = cert.extBasicConstraints;
  return {
    cert,
    key: createPublicKey({ key: cert.publicKey, format: 'der', type: 'spki' }),
    subject: cert.subject,
    issuer: cert.issuer,
    subjectKeyId: cert.extSubjectKeyID?.keyIdentifier ?? null,
    authorityKeyId: cert.extAuthorityKeyID?.keyIdentifier ?? null,
    isCA: cert.isCA,
    pathLen: constraints?.isCA && constraints.pathLenConstraint !== undefined ? Number(constraints.pathLenConstraint) : undefined,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/** sigstore-js's issuer rule: match the authority key id against subject key ids where both exist, else names. */
function mayHaveIssued(candidate: Anchor, authorityKeyId: Buffer | null, issuerName: Buffer): boolean {
  if (authorityKeyId && candidate.subjectKeyId) return candidate.subjectKeyId.equals(authorityKeyId);
  return candidate.subject.equals(issuerName);
}

function isSelfSigned(anchor: Anchor): boolean {
  return anchor.subject.equals(anchor.issuer);
}

export class CertificateChainCache {
  private readonly states = new WeakMap<CertAuthority, CaState>();

  private stateOf(ca: CertAuthority): CaState {
    let state = this.states.get(ca);
    if (!state) {
      state = { anchors: ca.certChain.map(anchorOf), pathTo: new Map() };
      this.states.set(ca, state);
    }
    return state;
  }

  /** Verified once per anchor: the signatures inside the trusted chain do not change. */
  private pathFrom(state: CaState, anchor: Anchor, depth = 0): Anchor[] | VerificationError {
    const known = state.pathTo.get(anchor);
    if (known) return known;
    let result: Anchor[] | VerificationError;
    if (depth > state.anchors.length) {
      result = certificateError('no valid certificate path found');
    } else if (isSelfSigned(anchor) && anchor.cert.verify()) {
      result = [anchor];
    } else {
      const issuers = state.anchors.filter((other) => other !== anchor && mayHaveIssued(other, anchor.authorityKeyId, anchor.issuer) && anchor.cert.verify(other.cert));
      const paths = issuers.map((issuer) => this.pathFrom(state, issuer, depth + 1)).filter((p): p is Anchor[] => Array.isArray(p));
      result = paths.length === 0 ? certificateError('no valid certificate path found') : [anchor, ...paths.reduce((a, b) => (b.length < a.length ? b : a))];
    }
    state.pathTo.set(anchor, result);
    return result;
  }

  private pathUnder(ca: CertAuthority, leaf: X509Certificate, native: NativeCertificate, timestamp: Date): X509Certificate[] {
    const state = this.stateOf(ca);
    const authorityKeyId = leaf.extAuthorityKeyID?.keyIdentifier ?? null;
    const issuers = state.anchors.filter((a) => mayHaveIssued(a, authorityKeyId, leaf.issuer) && native.verify(a.key));
    if (issuers.length === 0) throw certificateError('no valid certificate path found');
    const paths = issuers.map((issuer) => this.pathFrom(state, issuer));
    const good = paths.filter((p): p is Anchor[] => Array.isArray(p));
    if (good.length === 0) throw paths[0] as VerificationError;
    const chain = good.reduce((a, b) => (b.length < a.length ? b : a));
    const path = [leaf, ...chain.map((a) => a.cert)];

    if (!chain.every((a) => a.isCA)) throw certificateError('intermediate certificate is not a CA');
    if (!leaf.issuer.equals(chain[0]!.subject) || chain.some((a, i) => i + 1 < chain.length && !a.issuer.equals(chain[i + 1]!.subject))) {
      throw certificateError('incorrect certificate name chaining');
    }
    // RFC 5280 §4.2.1.9, as sigstore-js counts it: path index i (leaf = 0) may not exceed pathLen + 1.
    chain.forEach((a, index) => {
      const i = index + 1;
      if (a.pathLen !== undefined && a.pathLen < i - 1) throw certificateError('path length constraint exceeded');
    });
    const validAt = (from: Date, to: Date) => from <= timestamp && timestamp <= to;
    if (!validAt(leaf.notBefore, leaf.notAfter) || !chain.every((a) => validAt(a.notBefore, a.notAfter))) {
      throw certificateError('certificate is not valid or expired at the specified date');
    }
    return path;
  }

  /**
   * The verified path [leaf, issuer, …, root] under the first CA valid at `timestamp` that
   * issued the leaf; throws sigstore-js's CERTIFICATE_ERROR otherwise. `native` is the leaf
   * parsed by node from its DER exactly as carried in the bundle.
   */
  verify(leaf: X509Certificate, native: NativeCertificate, timestamp: Date, authorities: CertAuthority[]): X509Certificate[] {
    const cas = authorities.filter((ca) => ca.validFor.start <= timestamp && ca.validFor.end >= timestamp);
    let lastError: unknown;
    for (const ca of cas) {
      try {
        return this.pathUnder(ca, leaf, native, timestamp);
      } catch (error) {
        lastError = error;
      }
    }
    throw certificateError('Failed to verify certificate chain', lastError);
  }
}
