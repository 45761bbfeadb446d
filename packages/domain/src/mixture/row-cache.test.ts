import { describe, expect, it } from "vitest";
import { RowCache } from "./row-cache.js";

describe("RowCache", () => {
  it("keeps the last `entries` shards intact through wrap-arounds and growth; evicts first in, first out", () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    for (const [entries, words, maxLen] of [[1, 8, 40], [3, 16, 40], [5, 32, 8], [8, 64, 6], [64, 4096, 40]] as const) {
      const c = new RowCache(50, entries, words);
      const order: number[] = [];
      for (let step = 0; step < 600; step++) {
        const shard = rnd(50);
        if (c.baseOf[shard]! >= 0) continue;
        const len = 1 + rnd(maxLen);
        const b = c.alloc(shard, len);
        c.pool.fill(shard + 1, b, b + len);
        c.pool[b] = len; // the entry remembers its length in its first word
        order.push(shard);
        const live = order.slice(-entries);
        const cached = Array.from({ length: 50 }, (_, s) => s).filter((s) => c.baseOf[s]! >= 0);
        // Whatever is cached is among the newest `entries`, the newest is always cached, and every
        // cached entry still holds what was written (no overlap).
        expect(cached.every((s) => live.includes(s))).toBe(true);
        expect(cached).toContain(shard);
        for (const s of cached) {
          const base = c.baseOf[s]!;
          const n = c.pool[base]!;
          for (let i = base + 1; i < base + n; i++) expect(c.pool[i]).toBe(s + 1);
        }
      }
    }
  });
});
