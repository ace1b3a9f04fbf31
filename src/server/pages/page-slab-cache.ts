/**
 * A byte-budgeted cache of rendered pages whose bytes live in a few large buffers (slabs) instead
 * of one set of objects per page.
 *
 * Why: with one Map entry, page object, digest string and Buffer per page, a cached 700-byte page
 * cost about 950 bytes of overhead and eight objects on the heap. At 1M files (200k projects, two
 * formats) the pages did not fit in the budget, every miss cost twice a hit, and the major GCs
 * over that heap stalled the event loop for 135–190 ms. Here a page costs one Map entry (its key
 * to a slot number), a few typed-array cells and a 44-byte header beside its bytes.
 *
 * Eviction is by slab, oldest first, with a second chance: a page read since it was written to its
 * slab is moved to the start of that slab, which becomes the fresh one (as long as room remains for
 * the page being cached), losing its mark; the others go. A hit only sets a byte.
 *
 * The slabs are cut from one buffer allocated with the cache and reused in place, and `get` hands
 * out a copy of a page's bytes (about 75 ns for a 700-byte page), never a view of a slab. Slabs
 * allocated one at a time (and a fresh one for each reclaimed) were memory V8 counts as external:
 * every 64 MB more of it since the last full collection brought on another, and while an import
 * filled the cache of a server at 300k files one of those held its event loop for 103 ms. The
 * untouched part of the buffer takes no resident memory.
 */

/** A page as the cache holds it: its gzip bytes and the digest and length of what they inflate to. */
export interface SlabPage {
  sha256: string;
  length: number;
  gzip: Buffer;
}

/**
 * Heap memory per entry beside its slab bytes: the Map entry and its key string, the slot's typed
 * array cells and key reference (about 100–130 bytes on Node 24 for keys like
 * `simple-json:project-123456`). Counted so that the budget is memory, not bodies.
 */
export const INDEX_ENTRY_BYTES = 128;
/** slot u32, gzip length u32, inflated length u32 (ABSENT: a page known not to exist), sha256. */
const HEADER_BYTES = 44;
const ABSENT = 0xffffffff;
const MAX_SLAB_BYTES = 16 * 1024 * 1024;
const MIN_SLAB_BYTES = 4 * 1024;

/**
 * Keys to slot numbers in many small Maps instead of one. A Map rehashes its whole table when it
 * grows past a power of two, and again whenever deleted entries fill it; with one Map that is a
 * stop of 73 ms at 262,144 entries and 224 ms at 524,288 (Node 24, measured by inserting keys
 * like these one at a time), and at 1M files the cache holds ~400,000 of them and evicts and
 * re-adds them constantly: a warming after an import stalled the server 116 ms in one. With 256
 * Maps each holds a few thousand keys, and a rehash costs well under a millisecond.
 */
export class ShardedIndex {
  private readonly shards: Map<string, number>[] = Array.from({ length: INDEX_SHARDS }, () => new Map<string, number>());
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): number | undefined {
    return this.shards[shardOf(key)]!.get(key);
  }

  set(key: string, slot: number): void {
    const shard = this.shards[shardOf(key)]!;
    const before = shard.size;
    shard.set(key, slot);
    this.count += shard.size - before;
  }

  delete(key: string): void {
    if (this.shards[shardOf(key)]!.delete(key)) this.count--;
  }

  /** Keys per shard, for tests of the spread. */
  shardSizes(): number[] {
    return this.shards.map((shard) => shard.size);
  }
}

const INDEX_SHARDS = 256;

/**
 * A shard from the key's length and last four characters, mixed: keys share their prefix and
 * differ at the end (project names), and reading every character of a cons string (a key made by
 * concatenation) cost more than the lookup itself.
 */
function shardOf(key: string): number {
  const n = key.length;
  let hash = Math.imul(n, 0x9e3779b1);
  hash = Math.imul(hash ^ key.charCodeAt(n - 1), 0x01000193);
  hash = Math.imul(hash ^ key.charCodeAt(n - 2), 0x01000193);
  hash = Math.imul(hash ^ key.charCodeAt(n - 3), 0x01000193);
  hash = Math.imul(hash ^ key.charCodeAt(n - 4), 0x01000193);
  return (hash ^ (hash >>> 15)) & (INDEX_SHARDS - 1);
}

export class PageSlabCache {
  private readonly index = new ShardedIndex();
  private keys: (string | undefined)[] = [];
  /** Per slot: the id of the slab holding its record, the record's offset, and whether it was read. */
  private slabOf = new Uint32Array(1024);
  private offsetOf = new Uint32Array(1024);
  private readOf = new Uint8Array(1024);
  private readonly freeSlots: number[] = [];
  private slotCount = 0;

  /** Where the slabs are cut from; its unused tail is never written, so it takes no resident memory. */
  private readonly arena: Buffer;
  /** Slabs in age order, oldest first; their ids are consecutive, from `firstSlabId`. */
  private readonly slabs: Buffer[] = [];
  private readonly fills: number[] = [];
  private firstSlabId = 0;
  private headFill = 0;
  private liveBytes = 0;

  readonly slabBytes: number;

  constructor(private readonly budgetBytes: number) {
    this.slabBytes = Math.min(MAX_SLAB_BYTES, Math.max(MIN_SLAB_BYTES, Math.floor(budgetBytes / 16)));
    this.arena = Buffer.allocUnsafeSlow(Math.floor(budgetBytes / this.slabBytes) * this.slabBytes);
  }

  /** The page (its bytes a copy), null (known not to exist), or undefined (not cached). Marks it read unless told not to. */
  get(key: string, markRead = true): SlabPage | null | undefined {
    const slot = this.index.get(key);
    if (slot === undefined) return undefined;
    if (markRead) this.readOf[slot] = 1;
    const slab = this.slabs[this.slabOf[slot]! - this.firstSlabId]!;
    const at = this.offsetOf[slot]!;
    const length = slab.readUInt32LE(at + 8);
    if (length === ABSENT) return null;
    const start = at + HEADER_BYTES;
    const gzip = Buffer.allocUnsafe(slab.readUInt32LE(at + 4));
    slab.copy(gzip, 0, start, start + gzip.length);
    return { sha256: slab.toString('hex', at + 12, start), length, gzip };
  }

  /** Whether a page of this many gzip bytes would be cached (a record may take half a slab at most). */
  fits(gzipBytes: number): boolean {
    return HEADER_BYTES + gzipBytes <= this.slabBytes / 2 && this.slabBytes <= this.budgetBytes;
  }

  /** Caches a page (or that it does not exist, with null), replacing what the key held. */
  set(key: string, page: SlabPage | null): void {
    this.delete(key);
    const gzipBytes = page === null ? 0 : page.gzip.length;
    if (!this.fits(gzipBytes)) return;
    const size = HEADER_BYTES + gzipBytes;
    if (this.slabs.length === 0 || this.headFill + size > this.slabBytes) this.advance(size);
    const slot = this.takeSlot();
    const slab = this.slabs[this.slabs.length - 1]!;
    const at = this.headFill;
    slab.writeUInt32LE(slot, at);
    slab.writeUInt32LE(gzipBytes, at + 4);
    if (page === null) {
      slab.writeUInt32LE(ABSENT, at + 8);
      slab.fill(0, at + 12, at + HEADER_BYTES);
    } else {
      slab.writeUInt32LE(page.length, at + 8);
      if (slab.write(page.sha256, at + 12, 32, 'hex') !== 32) throw new Error(`not a sha256 digest: ${page.sha256}`);
      slab.set(page.gzip, at + HEADER_BYTES);
    }
    this.headFill += size;
    this.fills[this.fills.length - 1] = this.headFill;
    this.place(slot, key, this.firstSlabId + this.slabs.length - 1, at);
    this.liveBytes += size;
  }

  delete(key: string): void {
    const slot = this.index.get(key);
    if (slot === undefined) return;
    this.index.delete(key);
    this.liveBytes -= this.recordSize(slot);
    this.releaseSlot(slot);
  }

  /** Entries, memory held (slabs plus the index), and the bytes of live records in the slabs. */
  stats(): { entries: number; bytes: number; liveBytes: number } {
    return { entries: this.index.size, bytes: this.slabs.length * this.slabBytes + this.index.size * INDEX_ENTRY_BYTES, liveBytes: this.liveBytes };
  }

  /**
   * A fresh head slab: the next one cut from the arena while the budget allows, else the oldest
   * one, its survivors moved to its start (a record only ever moves towards offset 0, over records
   * already passed).
   */
  private advance(room: number): void {
    if ((this.slabs.length + 1) * this.slabBytes + this.index.size * INDEX_ENTRY_BYTES <= this.budgetBytes || this.slabs.length === 0) {
      const start = this.slabs.length * this.slabBytes;
      this.slabs.push(this.arena.subarray(start, start + this.slabBytes));
      this.fills.push(0);
      this.headFill = 0;
      return;
    }
    const slab = this.slabs.shift()!;
    const oldestFill = this.fills.shift()!;
    const oldestId = this.firstSlabId++;
    this.slabs.push(slab);
    this.fills.push(0);
    const freshId = this.firstSlabId + this.slabs.length - 1;
    let fill = 0;
    // Survivors may take the slab but for the room the new record needs; they lose their mark on
    // the way, so a slab of pages all read goes at the next pass.
    const keepLimit = this.slabBytes - room;
    for (let at = 0; at < oldestFill; ) {
      const slot = slab.readUInt32LE(at);
      const size = HEADER_BYTES + slab.readUInt32LE(at + 4);
      // A record whose slot moved on (deleted, replaced, or the slot reused) is garbage.
      if (slot < this.slotCount && this.slabOf[slot] === oldestId && this.offsetOf[slot] === at && this.keys[slot] !== undefined) {
        if (this.readOf[slot] === 1 && fill + size <= keepLimit) {
          if (fill !== at) slab.copyWithin(fill, at, at + size);
          this.slabOf[slot] = freshId;
          this.offsetOf[slot] = fill;
          this.readOf[slot] = 0;
          fill += size;
        } else {
          this.index.delete(this.keys[slot]!);
          this.liveBytes -= size;
          this.releaseSlot(slot);
        }
      }
      at += size;
    }
    this.headFill = fill;
    this.fills[this.fills.length - 1] = fill;
  }

  private recordSize(slot: number): number {
    const slab = this.slabs[this.slabOf[slot]! - this.firstSlabId]!;
    return HEADER_BYTES + slab.readUInt32LE(this.offsetOf[slot]! + 4);
  }

  private takeSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if (this.slotCount === this.slabOf.length) {
      const capacity = this.slabOf.length * 2;
      this.slabOf = grown(this.slabOf, new Uint32Array(capacity));
      this.offsetOf = grown(this.offsetOf, new Uint32Array(capacity));
      this.readOf = grown(this.readOf, new Uint8Array(capacity));
    }
    return this.slotCount++;
  }

  private place(slot: number, key: string, slabId: number, at: number): void {
    this.slabOf[slot] = slabId;
    this.offsetOf[slot] = at;
    this.readOf[slot] = 0;
    this.keys[slot] = key;
    this.index.set(key, slot);
  }

  private releaseSlot(slot: number): void {
    this.keys[slot] = undefined;
    this.freeSlots.push(slot);
  }
}

function grown<T extends Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
