import { describe, expect, it } from "vitest";
import { DEFAULT_MINHASH, exactJaccard, forEachShingle, MinHasher } from "./minhash.js";

// A deterministic pseudo-random vocabulary text, so pairs with a chosen overlap are easy to build.
function words(n: number, seed: number): string[] {
  const out: string[] = [];
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.push(`w${(x >>> 8) % 5000}`);
  }
  return out;
}

describe("MinHash", () => {
  it("shingles simplified text: case, punctuation, digit runs and diacritics do not matter", () => {
    const set = (t: string) => {
      const s: string[] = [];
      forEachShingle(t, 3, (hi, lo) => s.push(`${hi}:${lo}`));
      return s;
    };
    expect(set("The café costs 12 dollars, today!")).toEqual(set("the CAFE costs 7 dollars today"));
    expect(set("a b c d")).toHaveLength(2);
    expect(set("a b")).toHaveLength(1); // fewer words than n: one shingle
    expect(set("  ...  ")).toHaveLength(0);
  });

  it("signatures are deterministic across instances and depend on the seed", () => {
    const text = words(300, 7).join(" ");
    const a = new MinHasher(DEFAULT_MINHASH).signature(text)!;
    const b = new MinHasher(DEFAULT_MINHASH).signature(text)!;
    expect(a).toHaveLength(2 * 14 * 8);
    expect([...a]).toEqual([...b]);
    expect([...new MinHasher({ ...DEFAULT_MINHASH, seed: 2 }).signature(text)!]).not.toEqual([...a]);
    expect(new MinHasher(DEFAULT_MINHASH).signature("!!!")).toBeNull();
    const h = new MinHasher(DEFAULT_MINHASH);
    expect([...h.bandKeys(a)]).toEqual([...h.bandKeys(b)]);
    expect(new Set(Array.from({ length: 14 }, (_, i) => `${h.bandKeys(a)[2 * i]}`)).size).toBe(14);
  });

  it.each([64, 32] as const)("estimated Jaccard tracks the exact Jaccard of the shingle sets (%i-bit)", (hashBits) => {
    const h = new MinHasher({ ...DEFAULT_MINHASH, buckets: 16, hashesPerBucket: 16, hashBits }); // 256 hashes
    const errors: number[] = [];
    for (let k = 0; k < 40; k++) {
      const base = words(400, 100 + k);
      // Replace a growing share of the words: Jaccard from ~1 down to ~0.
      const other = base.map((w, i) => ((i * 7919 + k) % 40 < k ? `x${i}` : w));
      const a = base.join(" ");
      const b = other.join(" ");
      const exact = exactJaccard(a, b, 5);
      const est = h.estimateJaccard(h.signature(a)!, h.signature(b)!);
      errors.push(Math.abs(est - exact));
      // 256 hashes: standard error ≤ 0.032; 4.5 σ is a bound no correct implementation crosses.
      expect(Math.abs(est - exact)).toBeLessThan(0.15);
    }
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    expect(mean).toBeLessThan(0.035); // mean |error| of an unbiased estimator ≈ 0.8 σ ≈ 0.02
    expect(h.estimateJaccard(h.signature("a b c d e f")!, h.signature("a b c d e f")!)).toBe(1);
  });
});
