import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Sampler, SequenceBatch, permute, type MixturePlan } from "@tokenmill/domain";
import { buildVectors } from "./generate.js";
import { fixtureDatasets } from "./fixtures.js";

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, "sampler-vectors.json"), "utf8"));
const ds = vectors.datasets as ReturnType<typeof fixtureDatasets>;
const manifests = Object.fromEntries(Object.entries(ds).map(([k, f]) => [k, f.manifest]));
const sampler = (plan: MixturePlan) => new Sampler(plan, manifests, (k, s) => ds[k]!.docs[s]!);

describe("sampler contract vectors", () => {
  it("the planner and sampler reproduce the stored vectors exactly", () => {
    expect(fixtureDatasets()).toEqual(ds);
    expect(JSON.parse(JSON.stringify(buildVectors(ds)))).toEqual(vectors.cases);
  });

  it.each(vectors.cases.map((c: any) => [c.name, c]))("%s: every stream position once, seq_len + 1 tokens, exact block counts", (...args: any[]) => {
    const c = args[1];
    const plan = c.plan as MixturePlan;
    const s = sampler(plan);
    const seen = new Map<string, Set<number>>();
    for (let i = 0; i < plan.sequences; i++) {
      const at = s.locate(i);
      const set = seen.get(at.dataset) ?? new Set();
      expect(set.has(at.stream)).toBe(false);
      set.add(at.stream);
      seen.set(at.dataset, set);
      const ref = s.lookup(i);
      expect(ref.pieces.reduce((a, p) => a + p.end - p.start + (p.eos_after ? 1 : 0), 0)).toBe(plan.seq_len + 1);
    }
    // Streams are used without gaps: positions 0..n-1 of each dataset.
    for (const set of seen.values()) expect(Math.max(...set)).toBe(set.size - 1);
    const src = s.sourcesOf(Array.from({ length: plan.sequences }, (_, i) => i));
    for (const ph of plan.phases) {
      for (const seg of ph.segments) {
        const perBlock = seg.counts.map((n) => n / seg.blocks);
        for (let b = 0; b < seg.blocks; b++) {
          const lo = ph.start_sequence + (seg.start_block + b) * ph.block_size;
          const counts = seg.counts.map(() => 0);
          for (let i = lo; i < lo + ph.block_size; i++) counts[src[i]!]!++;
          counts.forEach((n, k) => expect(Math.abs(n - perBlock[k]!)).toBeLessThan(1));
        }
      }
    }
  });

  it("a resumed consumer (any start index, any stride) reads what a fresh one reads", () => {
    const c = vectors.cases[0];
    const full = sampler(c.plan);
    const resumed = sampler(c.plan);
    for (let i = 0; i < c.plan.sequences; i++) if (i % 3 === 1) expect(resumed.lookup(i)).toEqual(full.lookup(i));
  });

  it("lookupMany fills a reused batch with exactly what lookup returns, whatever the cache size", () => {
    for (const c of vectors.cases) {
      const plan = c.plan as MixturePlan;
      const one = sampler(plan);
      const tight = new Sampler(plan, manifests, (k, s) => ds[k]!.docs[s]!, 1);
      const batch = new SequenceBatch(3, 2);
      for (let start = 0; start < plan.sequences; start += 7) {
        const count = Math.min(7, plan.sequences - start);
        const refs = tight.refsOf(tight.lookupMany(start, count, batch));
        expect(refs).toEqual(Array.from({ length: count }, (_, i) => one.lookup(start + i)));
        for (let j = 0; j < batch.pieces; j++) expect(tight.shardFile(batch.dataset[j]!, batch.shard[j]!)).toBe(refs.flatMap((r) => r.pieces)[j]!.shard);
      }
      expect(() => one.lookupMany(plan.sequences - 1, 2, batch)).toThrow(RangeError);
    }
  });

  it("checks manifests against the plan: shard counts and totals at once, shard sizes when a dataset is first read", () => {
    const plan = vectors.cases[0].plan as MixturePlan;
    const copy = () => JSON.parse(JSON.stringify(manifests));
    const fewer = copy();
    fewer.small.shards.pop();
    expect(() => new Sampler(plan, fewer, () => [])).toThrow(/lists 2 shards, the plan says 3/);
    const totals = copy();
    totals.small.totals.tokens += 1;
    expect(() => new Sampler(plan, totals, () => [])).toThrow(/sequences per pass/);
    const sizes = copy();
    delete sizes.small.totals;
    sizes.small.shards[0].tokens += 1000;
    const s = new Sampler(plan, sizes, (k, f) => ds[k]!.docs[f]!);
    const src = s.sourcesOf(Array.from({ length: plan.sequences }, (_, i) => i));
    expect(() => s.lookup(src.indexOf(1))).toThrow(/holds \d+ tokens in \d+ rows, the plan says/);
    expect(s.lookup(src.indexOf(0)).source).toBe("big");
  });

  it("permute is a bijection for awkward sizes", () => {
    for (const n of [1, 2, 3, 5, 17, 1000, 4097, 65_537]) {
      const seen = new Uint8Array(n);
      for (let x = 0; x < n; x++) seen[permute(x, n, 12345)]!++;
      expect(seen.every((v) => v === 1)).toBe(true);
    }
  });
});
