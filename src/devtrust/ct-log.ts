import { createHash, sign } from 'node:crypto';
import type { LogKey } from './keys.ts';

/** RFC 6962 §3.3: the X.509v3 extension that carries embedded SCTs. */
export const OID_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';

/**
 * A certificate-transparency log reduced to what Fulcio needs from one: a signed certificate
 * timestamp over a precertificate (RFC 6962 §3.2). The dev CA embeds the SCT in the leaf, so
 * verifiers keep sigstore-js's default `ctlogThreshold: 1`.
 */
export class DevCtLog {
  constructor(private readonly key: LogKey) {}

  get logId(): Buffer {
    return this.key.logId;
  }

  get publicKeyDer(): Buffer {
    return this.key.publicKeyDer;
  }

  /**
   * `issuerSpkiDer` is the issuing CA's public key; `tbsDer` the leaf's TBSCertificate without
   * the SCT extension (which is exactly what sigstore-js rebuilds to verify it).
   */
  signPrecertificate(issuerSpkiDer: Buffer, tbsDer: Buffer, timestampMs: number): Buffer {
    const timestamp = uint(BigInt(timestampMs), 8);
    const issuerKeyHash = createHash('sha256').update(issuerSpkiDer).digest();
    const signed = Buffer.concat([
      Buffer.from([0x00, 0x00]), // version v1, signature_type certificate_timestamp
      timestamp,
      uint(1n, 2), // entry_type precert_entry
      issuerKeyHash,
      uint(BigInt(tbsDer.length), 3),
      tbsDer,
      uint(0n, 2), // no CT extensions
    ]);
    const signature = sign('sha256', signed, this.key.privateKey);
    return Buffer.concat([
      Buffer.from([0x00]),
      this.key.logId,
      timestamp,
      uint(0n, 2),
      Buffer.from([0x04, 0x03]), // sha256, ecdsa (RFC 5246 §7.4.1.4.1)
      uint(BigInt(signature.length), 2),
      signature,
    ]);
  }
}

/** The extension value: a DER OCTET STRING wrapping the TLS-encoded SignedCertificateTimestampList. */
export function sctListExtensionValue(scts: Buffer[]): Buffer {
  const items = Buffer.concat(scts.map((sct) => Buffer.concat([uint(BigInt(sct.length), 2), sct])));
  const list = Buffer.concat([uint(BigInt(items.length), 2), items]);
  return derOctetString(list);
}

function uint(value: bigint, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let rest = value;
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

function derOctetString(content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x04]), derLength(content.length), content]);
}

export function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
