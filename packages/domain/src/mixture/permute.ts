import { createHash } from "node:crypto";

/**
 * Stateless keyed permutations shared bit-for-bit with the Python trainer
 * (workers/trainer/tokenmill_trainer/sampler.py). Everything is uint32 arithmetic so both
 * languages agree without big integers; test/contracts/*.json pins the outputs.
 */

/** murmur3's 32-bit finalizer. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Folds uint32 parts into one uint32 key: `key(seed, TAG, dataset, pass)`. */
export function mixKey(...parts: number[]): number {
  let h = 0x6a09e667;
  for (const p of parts) h = fmix32((Math.imul((h ^ p) >>> 0, 0x9e3779b1) + 0x7f4a7c15) >>> 0);
  return h;
}

/** First four bytes (big-endian) of sha256(text): how a string (dataset key) enters a key. */
export function hash32(text: string): number {
  return createHash("sha256").update(text).digest().readUInt32BE(0);
}

/** Purposes, so that the same (seed, dataset, pass) gives unrelated permutations. */
export const TAG = { window: 1, shard: 2, block: 4 } as const;

const ROUND_CONSTS = [0x9e3779b9, 0x3c6ef372, 0xdaa66d2b, 0x78dde6e4] as const;

/**
 * A keyed bijection of [0, n) (n ≤ 2^32): a 4-round balanced Feistel network on the smallest
 * even number of bits covering n, with cycle walking for values ≥ n (expected < 4 walks).
 * Construct once per (n, key) and call `at` many times.
 */
export class Permutation {
  private readonly half: number;
  private readonly mask: number;
  private readonly k0: number;
  private readonly k1: number;
  private readonly k2: number;
  private readonly k3: number;

  constructor(
    readonly n: number,
    readonly key: number,
  ) {
    let bits = n <= 1 ? 2 : 32 - Math.clz32(n - 1);
    if (bits < 2) bits = 2;
    if (bits & 1) bits++;
    this.half = bits >>> 1;
    this.mask = 2 ** this.half - 1;
    this.k0 = fmix32((key ^ ROUND_CONSTS[0]) >>> 0);
    this.k1 = fmix32((key ^ ROUND_CONSTS[1]) >>> 0);
    this.k2 = fmix32((key ^ ROUND_CONSTS[2]) >>> 0);
    this.k3 = fmix32((key ^ ROUND_CONSTS[3]) >>> 0);
  }

  at(x: number): number {
    const n = this.n;
    if (n <= 1) return 0;
    const mask = this.mask;
    do {
      let l = x >>> this.half; // x < 2^32 always
      let r = x & mask;
      let t = l ^ (fmix32((r ^ this.k0) >>> 0) & mask);
      l = r;
      r = t;
      t = l ^ (fmix32((r ^ this.k1) >>> 0) & mask);
      l = r;
      r = t;
      t = l ^ (fmix32((r ^ this.k2) >>> 0) & mask);
      l = r;
      r = t;
      t = l ^ (fmix32((r ^ this.k3) >>> 0) & mask);
      l = r;
      r = t;
      x = ((l << this.half) | r) >>> 0;
    } while (x >= n);
    return x;
  }
}

/** One-off `new Permutation(n, key).at(x)`. */
export function permute(x: number, n: number, key: number): number {
  return new Permutation(n, key).at(x);
}

/** A stride coprime to n near n/φ, so consecutive rows land on well-spread blocks. */
export function goldenStride(n: number): number {
  if (n <= 2) return 1;
  let g = Math.max(1, Math.floor(n * 0.6180339887498949));
  while (gcd(g, n) !== 1) g++;
  return g;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** (a·b) mod n without leaving exact double range, for a, b < n ≤ 2^32. */
export function mulmod(a: number, b: number, n: number): number {
  const hi = Math.floor(b / 65536);
  const lo = b % 65536;
  return (((a * hi) % n) * 65536 + a * lo) % n;
}
