import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { DedupConfig } from "./config.js";
import { exactJaccard } from "./minhash.js";
import { dedupTexts } from "./test-helpers.js";

// Copies of the shared data files live in test/fixtures/data (see its PROVENANCE.md); eval sets in data/eval.
const ROOT = new URL("../../../../", import.meta.url).pathname;
const dataPath = (p: string) => (p.startsWith("eval/") ? `${ROOT}data/${p}` : `${ROOT}test/fixtures/data/${p}`);
const load = (p: string) =>
  gunzipSync(readFileSync(dataPath(p)))
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { id: string; text: string; meta: { a: string; b: string } });

const exact: DedupConfig = { kind: "exact", step: "exact_dedup", normalize: "whitespace" };
const minhash = (buckets: number, hashesPerBucket: number, threshold: number): DedupConfig => ({
  kind: "minhash",
  step: "minhash_dedup",
  minhash: { ngram: 5, buckets, hashesPerBucket, hashBits: 64, seed: 1 },
  threshold,
});

describe("exact dedup across tasks", () => {
  // Copies of the same texts spread over four inputs, some with different whitespace.
  const tasks = [
    [{ id: "a0", text: "alpha beta" }, { id: "a1", text: "unique one" }, { id: "a2", text: "gamma  delta" }],
    [{ id: "b0", text: "gamma delta" }, { id: "b1", text: "alpha beta" }, { id: "b2", text: "alpha beta" }],
    [{ id: "c0", text: "  alpha\nbeta " }, { id: "c1", text: "unique two" }],
    [{ id: "d0", text: "gamma delta" }, { id: "d1", text: "Alpha beta" }],
  ];

  it("keeps the first copy in (task, read order) and names it in every drop", async () => {
    const { dropped } = await dedupTexts(tasks, exact, 3);
    expect(Object.fromEntries([...dropped].map(([d, [k]]) => [d, k]))).toEqual({ b1: "a0", b2: "a0", c0: "a0", b0: "a2", d0: "a2" });
  });

  it("gives the same drop lists for any partition count", async () => {
    const base = (await dedupTexts(tasks, exact, 1)).drops;
    for (const p of [2, 5, 16]) expect((await dedupTexts(tasks, exact, p)).drops).toEqual(base);
  });

  it("normalize: none compares the text as it is", async () => {
    const { dropped } = await dedupTexts(tasks, { ...exact, normalize: "none" }, 2);
    expect([...dropped.keys()].sort()).toEqual(["b1", "b2", "d0"]);
  });
});

describe("MinHash dedup quality", () => {
  const files = ["math/math_test_5000.jsonl.gz", "eval/math500.jsonl.gz", "eval/gsm8k_test.jsonl.gz", "dedup_quality/gsm8k_test_socratic_contaminated.jsonl.gz"];

  it("finds ≥ 95% of the known duplicate pairs at the Jaccard threshold they exceed (0.4), with few merges below it", async () => {
    const tasks = files.map(load);
    const text = new Map(tasks.flat().map((d) => [d.id, d.text]));
    const pairs = load("dedup_quality/known_duplicate_pairs.jsonl.gz").map((r) => [r.meta.a, r.meta.b] as const);
    for (const [a, b] of pairs) expect(text.has(a) && text.has(b), `${a} / ${b}`).toBe(true);
    const jaccards = pairs.map(([a, b]) => exactJaccard(text.get(a)!, text.get(b)!, 5));
    // 99.3% of the pairs are at true Jaccard ≥ 0.4 (median 0.67; the socratic rewrites pull it down).
    expect(jaccards.filter((j) => j >= 0.4).length / pairs.length).toBeGreaterThan(0.99);

    // 14×8 has a 50% catch rate at J≈0.72; for a 0.4 threshold the S-curve must sit lower: 40×3.
    const { dropped } = await dedupTexts(tasks, minhash(40, 3, 0.4), 4);
    const root = (id: string) => {
      let x = id;
      while (dropped.has(x)) x = dropped.get(x)![0];
      return x;
    };
    const found = pairs.filter(([a, b]) => root(a) === root(b)).length;
    const recall = found / pairs.length;
    console.log(`known pairs: recall ${recall.toFixed(4)} (${found}/${pairs.length}) at threshold 0.4, 40×3; ${dropped.size} dropped`);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    // Precision against the threshold: a dropped document's true Jaccard with the kept one.
    const below = [...dropped].filter(([d, [k]]) => exactJaccard(text.get(d)!, text.get(k)!, 5) < 0.4);
    console.log(`drops below true Jaccard 0.4: ${below.length} of ${dropped.size}`);
    expect(below.length / dropped.size).toBeLessThan(0.02);
  });

  it("never merges distinct licence texts below 0.7 Jaccard with the defaults (14×8, verified at 0.7)", async () => {
    const licences = load("dedup_quality/license_texts_near_dups.jsonl.gz");
    const text = new Map(licences.map((d) => [d.id, d.text]));
    // Several tasks, so pairs cross task boundaries too.
    const tasks = [licences.slice(0, 16), licences.slice(16, 32), licences.slice(32)];
    for (const p of [1, 3]) {
      const { dropped } = await dedupTexts(tasks, minhash(14, 8, 0.7), p);
      const merges = [...dropped].map(([d, [k, est]]) => ({ d, k, est, exact: exactJaccard(text.get(d)!, text.get(k)!, 5) }));
      console.log(`licence merges (partitions ${p}): ${merges.map((m) => `${m.d}→${m.k} est ${m.est} true ${m.exact.toFixed(3)}`).join("; ")}`);
      for (const m of merges) expect(m.exact, `${m.d} merged into ${m.k}`).toBeGreaterThanOrEqual(0.7);
    }
  });
});

describe("dedup steps in the pipeline format and the engine", () => {
  it("parses with datatrove's defaults and rejects a hash width other than 32 or 64", async () => {
    const { parsePipeline } = await import("@tokenmill/domain");
    const { createSteps } = await import("../steps/registry.js");
    const { dedupBarriers } = await import("./config.js");
    const spec = parsePipeline({ version: 1, name: "d", steps: [{ step: "exact_dedup" }, { step: "minhash_dedup" }, { step: "tokenize" }] });
    expect(dedupBarriers(spec).map((b) => [b.barrier, b.stepIndex, b.config])).toEqual([
      [0, 0, { kind: "exact", step: "exact_dedup", normalize: "whitespace" }],
      [1, 1, { kind: "minhash", step: "minhash_dedup", minhash: { ngram: 5, buckets: 14, hashesPerBucket: 8, hashBits: 64, seed: 1 }, threshold: 0.7 }],
    ]);
    // Refused when the pipeline is defined, not only when its steps are built.
    expect(() => parsePipeline({ version: 1, name: "d", steps: [{ step: "minhash_dedup", hash_bits: 48 }, { step: "tokenize" }] })).toThrow(/steps\[0\]\.hash_bits: must be 32 or 64/);
    await expect(createSteps(spec)).resolves.toHaveLength(3);
  });

  it("runTask alone refuses a dedup pipeline instead of silently not deduplicating", async () => {
    const { parsePipeline } = await import("@tokenmill/domain");
    const { runTask } = await import("../run-task.js");
    const { MemStore, chunked, jsonl } = await import("../test-helpers.js");
    const spec = parsePipeline({ version: 1, name: "d", steps: [{ step: "exact_dedup" }, { step: "tokenize" }] });
    const input = chunked(jsonl({ id: "a", text: "x" }));
    await expect(runTask({ input, uri: "file:///a.jsonl", source: "s", taskIndex: 0, spec, fingerprint: "f", store: new MemStore(), prefix: "" })).rejects.toThrow(
      /runs across tasks/,
    );
  });
});
