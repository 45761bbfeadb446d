/**
 * MinHash signatures over word n-grams, in 32-bit integer arithmetic (Math.imul) so the hot loop
 * never touches BigInt. A 64-bit MinHash value is a pair of 32-bit lanes compared
 * lexicographically: the high lane decides almost always, so the low lane is only computed when
 * the high lane ties or beats the current minimum.
 */

export interface MinhashParams {
  /** Words per shingle. */
  ngram: number;
  /** LSH bands. */
  buckets: number;
  /** Hashes (rows) per band. */
  hashesPerBucket: number;
  /** 32 or 64. */
  hashBits: 32 | 64;
  seed: number;
}

export const DEFAULT_MINHASH: MinhashParams = { ngram: 5, buckets: 14, hashesPerBucket: 8, hashBits: 64, seed: 1 };

/** murmur3's 32-bit finalizer: a bijection with full avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** splitmix-style stream of 32-bit seeds, so every parameter set has its own hash family. */
function seeds(seed: number, n: number, salt: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = (seed ^ Math.imul(salt, 0x9e3779b9)) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    out[i] = fmix32(x ^ fmix32(i + salt));
  }
  return out;
}

// Word characters (letters, digits, marks) for code points below 0x10000, filled lazily.
const WORD_CLASS = new Uint8Array(65536); // 0 unknown, 1 word, 2 separator
const WORD_RE = /[\p{L}\p{N}]/u;
for (let c = 0; c < 128; c++) WORD_CLASS[c] = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ? 1 : 2;

function isWordUnit(c: number): boolean {
  let k = WORD_CLASS[c]!;
  if (k === 0) {
    // Surrogates count as word characters: emoji and rare scripts stay inside a word.
    k = (c >= 0xd800 && c <= 0xdfff) || WORD_RE.test(String.fromCharCode(c)) ? 1 : 2;
    WORD_CLASS[c] = k;
  }
  return k === 1;
}

const COMBINING = /\p{M}/gu;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * datatrove's simplify_text, approximately: lowercase, diacritics stripped (NFD without combining
 * marks), punctuation and symbols as separators, every run of digits the single word-part "0".
 */
export function simplifyText(text: string): string {
  let t = text.toLowerCase();
  if (NON_ASCII.test(t)) t = t.normalize("NFD").replace(COMBINING, "").normalize("NFC");
  return t;
}

/**
 * Calls `emit(hi, lo)` with a 64-bit hash of every word n-gram of the simplified text (a text with
 * fewer than n words gives one shingle of all its words; a text without words gives none).
 * Returns the number of shingles.
 */
export function forEachShingle(text: string, ngram: number, emit: (hi: number, lo: number) => void): number {
  const t = simplifyText(text);
  const ringHi = new Int32Array(ngram);
  const ringLo = new Int32Array(ngram);
  let words = 0;
  let count = 0;
  let inWord = false;
  let lastDigit = false;
  let wh = 0;
  let wl = 0;
  const endWord = () => {
    ringHi[words % ngram] = fmix32(wh ^ 0x2545f491);
    ringLo[words % ngram] = fmix32(wl ^ 0x6a09e667);
    words++;
    if (words >= ngram) {
      emitGram(words - ngram);
    }
    inWord = false;
  };
  const emitGram = (start: number) => {
    let h = 0x811c9dc5 ^ ngram;
    let l = 0x01000193;
    for (let j = 0; j < Math.min(ngram, words); j++) {
      const at = (start + j) % ngram;
      h = Math.imul(h ^ ringHi[at]!, 0x01000193) + j;
      l = Math.imul(l ^ ringLo[at]!, 0x5bd1e995) ^ (l >>> 15);
    }
    emit(fmix32(h), fmix32(l ^ h));
    count++;
  };
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (!isWordUnit(c)) {
      if (inWord) endWord();
      continue;
    }
    const digit = c >= 0x30 && c <= 0x39;
    if (!inWord) {
      inWord = true;
      lastDigit = false;
      wh = 0x811c9dc5;
      wl = 0x1b873593;
    }
    if (digit) {
      if (lastDigit) continue; // a run of digits is one "0"
      lastDigit = true;
      wh = Math.imul(wh ^ 0x30, 0x01000193);
      wl = Math.imul(wl ^ 0x30, 0xcc9e2d51);
      continue;
    }
    lastDigit = false;
    wh = Math.imul(wh ^ c, 0x01000193);
    wl = Math.imul(wl ^ c, 0xcc9e2d51);
  }
  if (inWord) endWord();
  if (words > 0 && words < ngram) emitGram(0);
  return count;
}

/** Computes signatures of one parameter set; reuse one instance for many documents. */
export class MinHasher {
  readonly numHashes: number;
  /** u32 words per signature: numHashes (32-bit) or 2 × numHashes (64-bit, hi then lo per hash). */
  readonly sigWords: number;
  private readonly sa: Uint32Array;
  private readonly sb: Uint32Array;
  private readonly sc: Uint32Array;
  private readonly bandSeeds: Uint32Array;
  private readonly minHi: Uint32Array;
  private readonly minLo: Uint32Array;

  constructor(readonly params: MinhashParams) {
    if (params.hashBits !== 32 && params.hashBits !== 64) throw new Error(`hash_bits must be 32 or 64, got ${String(params.hashBits)}`);
    this.numHashes = params.buckets * params.hashesPerBucket;
    this.sigWords = params.hashBits === 64 ? 2 * this.numHashes : this.numHashes;
    this.sa = seeds(params.seed, this.numHashes, 1);
    this.sb = seeds(params.seed, this.numHashes, 2);
    this.sc = seeds(params.seed, this.numHashes, 3);
    this.bandSeeds = seeds(params.seed, params.buckets, 4);
    this.minHi = new Uint32Array(this.numHashes);
    this.minLo = new Uint32Array(this.numHashes);
  }

  /** The signature, or null for a text without words (it has no shingles to compare). */
  signature(text: string): Uint32Array | null {
    const H = this.numHashes;
    const { sa, sb, sc, minHi, minLo } = this;
    const wide = this.params.hashBits === 64;
    minHi.fill(0xffffffff);
    minLo.fill(0xffffffff);
    const n = forEachShingle(text, this.params.ngram, (hi, lo) => {
      for (let i = 0; i < H; i++) {
        // Seeded murmur3 round on the shingle's high lane, mixed with its low lane.
        let v = Math.imul(hi ^ sa[i]!, 0xcc9e2d51);
        v = Math.imul((v << 15) | (v >>> 17), 0x1b873593) ^ lo ^ sb[i]!;
        v ^= v >>> 16;
        v = Math.imul(v, 0x85ebca6b);
        v ^= v >>> 13;
        v = Math.imul(v, 0xc2b2ae35);
        v = (v ^ (v >>> 16)) >>> 0;
        const m = minHi[i]!;
        if (v > m) continue;
        if (!wide) {
          minHi[i] = v;
          continue;
        }
        const w = fmix32(Math.imul(lo ^ sc[i]!, 0x9e3779b1) ^ hi);
        if (v < m || w < minLo[i]!) {
          minHi[i] = v;
          minLo[i] = w;
        }
      }
    });
    if (n === 0) return null;
    const sig = new Uint32Array(this.sigWords);
    if (wide) {
      for (let i = 0; i < H; i++) {
        sig[2 * i] = minHi[i]!;
        sig[2 * i + 1] = minLo[i]!;
      }
    } else sig.set(minHi);
    return sig;
  }

  /** Fraction of equal MinHash values: the estimate of the Jaccard similarity of the shingle sets. */
  estimateJaccard(a: Uint32Array, b: Uint32Array): number {
    let eq = 0;
    if (this.params.hashBits === 64) {
      for (let i = 0; i < a.length; i += 2) if (a[i] === b[i] && a[i + 1] === b[i + 1]) eq++;
    } else for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
    return eq / this.numHashes;
  }

  /**
   * One 64-bit key per band (hi, lo pairs): the band's number and its values hashed together, so
   * equal keys mean equal bands with overwhelming probability and keys of different bands differ.
   */
  bandKeys(sig: Uint32Array): Uint32Array {
    const { buckets, hashesPerBucket } = this.params;
    const per = (this.params.hashBits === 64 ? 2 : 1) * hashesPerBucket;
    const out = new Uint32Array(2 * buckets);
    for (let b = 0; b < buckets; b++) {
      let h = this.bandSeeds[b]!;
      let l = b ^ 0x5bd1e995;
      for (let j = b * per; j < (b + 1) * per; j++) {
        h = Math.imul(h ^ sig[j]!, 0x01000193) ^ (h >>> 13);
        l = Math.imul(l ^ sig[j]!, 0xcc9e2d51) ^ (l >>> 15);
      }
      out[2 * b] = fmix32(h ^ b);
      out[2 * b + 1] = fmix32(l ^ h);
    }
    return out;
  }
}

/** The exact Jaccard similarity of two texts' shingle sets (64-bit shingle hashes); for tests and reports. */
export function exactJaccard(a: string, b: string, ngram: number): number {
  const set = (t: string) => {
    const s = new Set<string>();
    forEachShingle(t, ngram, (hi, lo) => s.add(`${hi}:${lo}`));
    return s;
  };
  const A = set(a);
  const B = set(b);
  if (A.size === 0 && B.size === 0) return 1;
  let inter = 0;
  for (const x of A) if (B.has(x)) inter++;
  return inter / (A.size + B.size - inter);
}
