/**
 * BPE merges as an open-addressing hash table keyed by the pair of token ids, and the merge loop
 * of Hugging Face `tokenizers` (models/bpe/word.rs, no dropout): repeatedly merge the adjacent
 * pair of lowest rank, the leftmost one on ties, until no adjacent pair has a merge.
 */
export class MergeTable {
  private readonly mask: number;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  /** Rank (index in the merges list) of the pair in each slot. */
  readonly rank: Int32Array;
  /** Id of the token the pair merges into, per slot. */
  readonly merged: Int32Array;

  constructor(pairs: number) {
    let capacity = 1024;
    while (capacity < pairs * 3) capacity *= 2;
    this.mask = capacity - 1;
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.rank = new Int32Array(capacity);
    this.merged = new Int32Array(capacity);
  }

  /** Adds a merge; a pair listed twice keeps its last rank, as `tokenizers` does (it collects a HashMap). */
  set(l: number, r: number, rank: number, merged: number): void {
    let slot = hash(l, r) & this.mask;
    while (this.left[slot] !== -1 && !(this.left[slot] === l && this.right[slot] === r)) slot = (slot + 1) & this.mask;
    this.left[slot] = l;
    this.right[slot] = r;
    this.rank[slot] = rank;
    this.merged[slot] = merged;
  }

  /** The slot of the pair, or -1 when the pair does not merge. */
  find(l: number, r: number): number {
    const left = this.left;
    let slot = hash(l, r) & this.mask;
    for (;;) {
      const k = left[slot]!;
      if (k === l && this.right[slot] === r) return slot;
      if (k === -1) return -1;
      slot = (slot + 1) & this.mask;
    }
  }
}

function hash(l: number, r: number): number {
  return (Math.imul(l, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca77)) >>> 7;
}

/** Above this many symbols the heap-based loop wins over rescanning the pairs after each merge. */
const SMALL = 48;

/**
 * Merges `ids[0, n)` in place and returns the new length. Symbols start as one token per byte;
 * the result is the token ids of the word.
 */
export function mergeWord(table: MergeTable, ids: Int32Array, n: number): number {
  return n <= SMALL ? mergeSmall(table, ids, n) : mergeLarge(table, ids, n);
}

const pairSlots = new Int32Array(SMALL);

function mergeSmall(table: MergeTable, ids: Int32Array, n: number): number {
  const { rank, merged } = table;
  const slots = pairSlots;
  for (let i = 0; i + 1 < n; i++) slots[i] = table.find(ids[i]!, ids[i + 1]!);
  while (n > 1) {
    let best = -1;
    let bestRank = 0x7fffffff;
    for (let i = 0; i + 1 < n; i++) {
      const s = slots[i]!;
      if (s >= 0 && rank[s]! < bestRank) {
        bestRank = rank[s]!;
        best = i;
      }
    }
    if (best < 0) break;
    ids[best] = merged[slots[best]!]!;
    for (let i = best + 1; i + 1 < n; i++) {
      ids[i] = ids[i + 1]!;
      slots[i] = slots[i + 1]!;
    }
    n--;
    if (best > 0) slots[best - 1] = table.find(ids[best - 1]!, ids[best]!);
    if (best + 1 < n) slots[best] = table.find(ids[best]!, ids[best + 1]!);
  }
  return n;
}

// Heap entries are rank * 2^32 + position: ordered by rank, then leftmost, as in word.rs.
const POS = 2 ** 32;
let heap = new Float64Array(1024);
let next = new Int32Array(1024);
let prev = new Int32Array(1024);

function mergeLarge(table: MergeTable, ids: Int32Array, n: number): number {
  const { rank, merged } = table;
  if (next.length < n) {
    next = new Int32Array(n * 2);
    prev = new Int32Array(n * 2);
  }
  let size = 0;
  const push = (key: number): void => {
    if (size === heap.length) {
      const grown = new Float64Array(size * 2);
      grown.set(heap);
      heap = grown;
    }
    let i = size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = key;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap[--size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  };

  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  for (let i = 0; i + 1 < n; i++) {
    const s = table.find(ids[i]!, ids[i + 1]!);
    if (s >= 0) push(rank[s]! * POS + i);
  }
  // A merged-away symbol gets id -1; an entry whose pair changed since it was pushed is stale.
  while (size > 0) {
    const key = pop();
    const pos = key % POS;
    const r = (key - pos) / POS;
    const right = next[pos]!;
    if (ids[pos] === -1 || right === -1) continue;
    const s = table.find(ids[pos]!, ids[right]!);
    if (s < 0 || rank[s] !== r) continue;
    ids[pos] = merged[s]!;
    ids[right] = -1;
    const after = next[right]!;
    next[pos] = after;
    if (after !== -1) prev[after] = pos;
    const before = prev[pos]!;
    if (before !== -1) {
      const t = table.find(ids[before]!, ids[pos]!);
      if (t >= 0) push(rank[t]! * POS + before);
    }
    if (after !== -1) {
      const t = table.find(ids[pos]!, ids[after]!);
      if (t >= 0) push(rank[t]! * POS + pos);
    }
  }
  let m = 0;
  for (let i = 0; i < n; i++) if (ids[i] !== -1) ids[m++] = ids[i]!;
  return m;
}
