/**
 * n-gram keys without building n-gram strings. datatrove compares n-grams as joined strings
 * (`" ".join(words)` for top n-grams, `"".join(words)` for duplicated n-grams, so in the latter
 * ["ab", "c"] equals ["a", "bc"]). We hash the joined *characters* with two polynomial hashes
 * modulo 2^32 (different odd bases), which keeps those semantics; the duplicated-n-gram path also
 * compares the strings on a hit, so it is exact. Counting uses an open-addressing table in typed
 * arrays: a JavaScript Map per n-gram size was most of gopher_repetition's time.
 */
const B1 = 0x01000193;
const B2 = 0x5bd1e995;
const SPACE = 32;

interface WordHash {
  h1: number;
  h2: number;
  /** B^len mod 2^32, for appending this word after a prefix */
  p1: number;
  p2: number;
  /** code points */
  len: number;
}

const cache = new Map<string, WordHash>();

function wordHash(w: string): WordHash {
  let e = cache.get(w);
  if (e === undefined) {
    let h1 = 0;
    let h2 = 0;
    let p1 = 1;
    let p2 = 1;
    let len = 0;
    for (let i = 0; i < w.length; i++) {
      let c = w.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < w.length) {
        const d = w.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      h1 = (Math.imul(h1, B1) + c) | 0;
      h2 = (Math.imul(h2, B2) + c) | 0;
      p1 = Math.imul(p1, B1);
      p2 = Math.imul(p2, B2);
      len++;
    }
    e = { h1, h2, p1, p2, len };
    if (cache.size > 500_000) cache.clear();
    cache.set(w, e);
  }
  return e;
}

/** Per-document word hash arrays. */
export class WordHashes {
  readonly h1: Int32Array;
  readonly h2: Int32Array;
  readonly p1: Int32Array;
  readonly p2: Int32Array;
  readonly len: Int32Array;
  /** filled by key(): the second hash of the last key */
  k2 = 0;

  constructor(readonly words: string[]) {
    const n = words.length;
    this.h1 = new Int32Array(n);
    this.h2 = new Int32Array(n);
    this.p1 = new Int32Array(n);
    this.p2 = new Int32Array(n);
    this.len = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const e = wordHash(words[i]!);
      this.h1[i] = e.h1;
      this.h2[i] = e.h2;
      this.p1[i] = e.p1;
      this.p2[i] = e.p2;
      this.len[i] = e.len;
    }
  }

  /** First hash of words[i..i+n) joined with " " (spaced) or ""; the second one is left in k2. */
  key(i: number, n: number, spaced: boolean): number {
    let a = this.h1[i]!;
    let b = this.h2[i]!;
    for (let k = i + 1; k < i + n; k++) {
      if (spaced) {
        a = (Math.imul(a, B1) + SPACE) | 0;
        b = (Math.imul(b, B2) + SPACE) | 0;
      }
      a = (Math.imul(a, this.p1[k]!) + this.h1[k]!) | 0;
      b = (Math.imul(b, this.p2[k]!) + this.h2[k]!) | 0;
    }
    this.k2 = b;
    return a;
  }

  charLen(i: number, n: number, spaced: boolean): number {
    let l = spaced ? n - 1 : 0;
    for (let k = i; k < i + n; k++) l += this.len[k]!;
    return l;
  }

  /** words[i..i+n) and words[j..j+n) joined with "" are equal. */
  sameConcat(i: number, j: number, n: number): boolean {
    let same = true;
    for (let k = 0; k < n && same; k++) same = this.words[i + k] === this.words[j + k];
    return same || this.words.slice(i, i + n).join("") === this.words.slice(j, j + n).join("");
  }
}

/**
 * Open-addressing table from a 64-bit key (two int32) to a slot holding a value (first position)
 * and a count. Reused across documents; grows to twice the largest key count seen.
 */
export class NgramTable {
  private k1 = new Int32Array(0);
  private k2 = new Int32Array(0);
  private used = new Uint8Array(0);
  val = new Int32Array(0);
  count = new Int32Array(0);
  private mask = 0;

  reset(maxKeys: number): void {
    let cap = 16;
    while (cap < maxKeys * 2) cap *= 2;
    if (cap > this.used.length) {
      this.k1 = new Int32Array(cap);
      this.k2 = new Int32Array(cap);
      this.used = new Uint8Array(cap);
      this.val = new Int32Array(cap);
      this.count = new Int32Array(cap);
    } else this.used.fill(0, 0, cap);
    this.mask = cap - 1;
  }

  /** Slot of the key, inserting it (count 0, value `v`) when absent. */
  slot(a: number, b: number, v: number): number {
    let s = (Math.imul(a ^ (b >>> 16), 0x9e3779b1) >>> 0) & this.mask;
    for (;;) {
      if (this.used[s] === 0) {
        this.used[s] = 1;
        this.k1[s] = a;
        this.k2[s] = b;
        this.val[s] = v;
        this.count[s] = 0;
        return s;
      }
      if (this.k1[s] === a && this.k2[s] === b) return s;
      s = (s + 1) & this.mask;
    }
  }
}
