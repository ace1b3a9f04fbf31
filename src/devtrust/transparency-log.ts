import { sign } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { json } from '@sigstore/core';
import { CairnError } from '../errors.ts';
import type { LogKey } from './keys.ts';
import { readJsonFile, writeJsonAtomic } from './keys.ts';
import { inclusionPath, leafHash, merkleRoot, type SubtreeCache } from './merkle.ts';
import type { CanonicalEntry } from './rekor-entries.ts';

interface StoredEntry {
  logIndex: number;
  integratedTime: number;
  /** Base64 canonical body. */
  body: string;
  signedEntryTimestamp: string;
}

/** Rekor v1's LogEntry, keyed by UUID in responses. */
export interface RekorLogEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    signedEntryTimestamp: string;
    inclusionProof: { logIndex: number; rootHash: string; treeSize: number; hashes: string[]; checkpoint: string };
  };
}

/**
 * The protobuf-JSON TransparencyLogEntry a Rekor v2 log answers with (what a bundle carries): an
 * inclusion proof against a signed checkpoint, and neither an integrated time nor a signed entry
 * timestamp — the trusted time comes from a timestamp authority.
 */
export interface TransparencyLogEntryJson {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  inclusionProof: { logIndex: string; rootHash: string; treeSize: string; hashes: string[]; checkpoint: { envelope: string } };
  canonicalizedBody: string;
}

export interface RekorLogInfo {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
  inactiveShards: never[];
}

/**
 * An append-only Rekor-compatible log: an RFC 6962 Merkle tree over canonical entry bodies,
 * signed entry timestamps, inclusion proofs against signed checkpoints. Each entry is its own
 * JSON file, written atomically before the entry is acknowledged, so a restart replays the tree.
 */
export class DevTransparencyLog {
  private readonly entries: StoredEntry[] = [];
  private readonly leaves: Buffer[] = [];
  private readonly indexByLeaf = new Map<string, number>();
  private readonly subtrees: SubtreeCache = new Map();
  private readonly entriesDir: string;

  constructor(
    stateDir: string,
    private readonly key: LogKey & { treeId: number },
    /** The name verifiers match against the log's base URL in the trusted root: its host name. */
    private readonly signerName: () => string,
    private readonly clock: () => Date = () => new Date(),
    /** The folder under the state directory that holds this log's entries. */
    folder = 'log',
  ) {
    this.entriesDir = join(stateDir, folder, 'entries');
    mkdirSync(this.entriesDir, { recursive: true });
    this.replay();
  }

  get logId(): Buffer {
    return this.key.logId;
  }

  get publicKeyDer(): Buffer {
    return this.key.publicKeyDer;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Appends; a body already logged is not appended again (`created: false`, Rekor answers 409). */
  append(entry: CanonicalEntry): { uuid: string; entry: RekorLogEntry; created: boolean } {
    const leaf = leafHash(entry.body);
    const existing = this.indexByLeaf.get(leaf.toString('hex'));
    if (existing !== undefined) return { ...this.entryAt(existing), created: false };
    const logIndex = this.entries.length;
    const integratedTime = Math.floor(this.clock().getTime() / 1000);
    const body = entry.body.toString('base64');
    const stored: StoredEntry = { logIndex, integratedTime, body, signedEntryTimestamp: this.signEntryTimestamp(body, integratedTime, logIndex) };
    writeJsonAtomic(join(this.entriesDir, entryFileName(logIndex)), stored);
    this.remember(stored);
    return { uuid: this.uuidOf(logIndex), entry: this.present(logIndex), created: true };
  }

  /** Appends (or finds) an entry and answers it as a Rekor v2 log does. */
  appendV2(entry: CanonicalEntry): TransparencyLogEntryJson {
    const { entry: logged } = this.append(entry);
    return this.transparencyLogEntry(logged.logIndex, entry);
  }

  private transparencyLogEntry(logIndex: number, entry: Pick<CanonicalEntry, 'kind' | 'apiVersion'>): TransparencyLogEntryJson {
    const treeSize = this.entries.length;
    return {
      logIndex: String(logIndex),
      logId: { keyId: this.key.logId.toString('base64') },
      kindVersion: { kind: entry.kind, version: entry.apiVersion },
      inclusionProof: {
        logIndex: String(logIndex),
        rootHash: merkleRoot(this.leaves, 0, treeSize, this.subtrees).toString('base64'),
        treeSize: String(treeSize),
        hashes: inclusionPath(this.leaves, logIndex, treeSize, this.subtrees).map((hash) => hash.toString('base64')),
        checkpoint: { envelope: this.checkpoint(treeSize) },
      },
      canonicalizedBody: this.entries[logIndex]!.body,
    };
  }

  entryAt(logIndex: number): { uuid: string; entry: RekorLogEntry } {
    if (!Number.isInteger(logIndex) || logIndex < 0 || logIndex >= this.entries.length) {
      throw new CairnError('request.not_found', `no log entry at index ${logIndex} (tree size ${this.entries.length})`);
    }
    return { uuid: this.uuidOf(logIndex), entry: this.present(logIndex) };
  }

  entryByUuid(uuid: string): { uuid: string; entry: RekorLogEntry } {
    // Rekor accepts the bare leaf hash or the tree-id-prefixed "entry ID".
    const leaf = uuid.toLowerCase().slice(-64);
    const index = this.indexByLeaf.get(leaf);
    if (index === undefined) throw new CairnError('request.not_found', `no log entry with UUID ${uuid}`);
    return this.entryAt(index);
  }

  info(): RekorLogInfo {
    const treeSize = this.entries.length;
    return {
      rootHash: merkleRoot(this.leaves, 0, treeSize, this.subtrees).toString('hex'),
      treeSize,
      signedTreeHead: this.checkpoint(treeSize),
      treeID: String(this.key.treeId),
      inactiveShards: [],
    };
  }

  /**
   * A signed note (transparency-dev/formats log/README.md) in Rekor's shape: origin
   * "<host> - <tree id>", size, base64 root, a timestamp line; signed by the log key with the
   * first four bytes of the log ID as key hint.
   */
  checkpoint(treeSize: number): string {
    const root = merkleRoot(this.leaves, 0, treeSize, this.subtrees);
    const name = this.signerName();
    const note = `${name} - ${this.key.treeId}\n${treeSize}\n${root.toString('base64')}\nTimestamp: ${BigInt(this.clock().getTime()) * 1_000_000n}\n`;
    const signature = sign('sha256', Buffer.from(note, 'utf8'), this.key.privateKey);
    const hintAndSignature = Buffer.concat([this.key.logId.subarray(0, 4), signature]).toString('base64');
    return `${note}\n\u2014 ${name} ${hintAndSignature}\n`;
  }

  /** Rekor's SET: the log's signature over canonical JSON {body, integratedTime, logID, logIndex}. */
  private signEntryTimestamp(body: string, integratedTime: number, logIndex: number): string {
    const payload = json.canonicalize({ body, integratedTime, logIndex, logID: this.key.logId.toString('hex') });
    return sign('sha256', Buffer.from(payload, 'utf8'), this.key.privateKey).toString('base64');
  }

  private present(logIndex: number): RekorLogEntry {
    const stored = this.entries[logIndex]!;
    const treeSize = this.entries.length;
    return {
      body: stored.body,
      integratedTime: stored.integratedTime,
      logID: this.key.logId.toString('hex'),
      logIndex,
      verification: {
        signedEntryTimestamp: stored.signedEntryTimestamp,
        inclusionProof: {
          logIndex,
          rootHash: merkleRoot(this.leaves, 0, treeSize, this.subtrees).toString('hex'),
          treeSize,
          hashes: inclusionPath(this.leaves, logIndex, treeSize, this.subtrees).map((hash) => hash.toString('hex')),
          checkpoint: this.checkpoint(treeSize),
        },
      },
    };
  }

  private uuidOf(logIndex: number): string {
    const treeIdHex = this.key.treeId.toString(16).padStart(16, '0');
    return `${treeIdHex}${this.leaves[logIndex]!.toString('hex')}`;
  }

  private remember(stored: StoredEntry): void {
    const leaf = leafHash(Buffer.from(stored.body, 'base64'));
    this.entries.push(stored);
    this.leaves.push(leaf);
    this.indexByLeaf.set(leaf.toString('hex'), stored.logIndex);
  }

  private replay(): void {
    const names = existsSync(this.entriesDir) ? readdirSync(this.entriesDir).filter((name) => /^\d{12}\.json$/.test(name)).sort() : [];
    for (const name of names) {
      const stored = readJsonFile<StoredEntry>(join(this.entriesDir, name));
      if (stored.logIndex !== this.entries.length) {
        throw new CairnError('config.invalid', `dev transparency log is not contiguous: found entry ${stored.logIndex} where ${this.entries.length} was expected`);
      }
      this.remember(stored);
    }
  }
}

function entryFileName(logIndex: number): string {
  return `${String(logIndex).padStart(12, '0')}.json`;
}
