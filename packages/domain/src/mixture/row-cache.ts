/**
 * The sampler's per-dataset cache of shard row indexes: variable-length entries in one Uint32Array
 * used as a ring, evicted first in, first out, at most `entries` of them. One buffer instead of a
 * typed array per shard saves the dereference of an array object on every lookup in a random
 * shard (lookups are bound by cache misses; see BENCHMARKS.md). The ring doubles (dropping what it
 * holds) when fewer than `entries` entries would fit.
 */
export class RowCache {
  pool: Uint32Array;
  /** Base of each shard's entry in `pool` by manifest position, −1 when not cached. */
  readonly baseOf: Int32Array;
  private readonly entShard: Int32Array;
  private readonly entBase: Int32Array;
  /** Oldest entry and number of entries in the entShard/entBase ring. */
  private first = 0;
  private count = 0;
  /** Where the next entry goes. */
  private head = 0;

  constructor(shards: number, entries: number, words = 4096) {
    this.pool = new Uint32Array(words);
    this.baseOf = new Int32Array(shards).fill(-1);
    this.entShard = new Int32Array(Math.max(1, entries));
    this.entBase = new Int32Array(Math.max(1, entries));
  }

  /** Reserves `len` words for `shard` and returns their base; evicts the oldest entries in the way. */
  alloc(shard: number, len: number): number {
    let h = this.head;
    let wrap = h + len > this.pool.length;
    if (wrap) h = 0;
    if (len > this.pool.length || (this.count < this.entShard.length && this.inTheWay(h, len, wrap))) {
      this.grow(len);
      h = 0;
      wrap = false;
    }
    if (this.count === this.entShard.length) this.evict();
    if (wrap) while (this.count > 0 && this.entBase[this.first]! >= this.head) this.evict();
    while (this.count > 0 && this.entBase[this.first]! >= h && this.entBase[this.first]! < h + len) this.evict();
    const k = (this.first + this.count) % this.entShard.length;
    this.entShard[k] = shard;
    this.entBase[k] = h;
    this.count++;
    this.baseOf[shard] = h;
    this.head = h + len;
    return h;
  }

  /** Whether placing [h, h + len) would overwrite a live entry. Entries lie in ring order from
   *  `head`: the ones at or past it are the oldest (from the previous lap), so only the oldest can
   *  be in the way. */
  private inTheWay(h: number, len: number, wrap: boolean): boolean {
    if (this.count === 0) return false;
    const b = this.entBase[this.first]!;
    return (wrap && b >= this.head) || (b >= h && b < h + len);
  }

  private evict(): void {
    this.baseOf[this.entShard[this.first]!] = -1;
    this.first = (this.first + 1) % this.entShard.length;
    this.count--;
  }

  private grow(len: number): void {
    while (this.count > 0) this.evict();
    this.pool = new Uint32Array(Math.max(this.pool.length * 2, len * 4));
    this.first = 0;
    this.head = 0;
  }
}
