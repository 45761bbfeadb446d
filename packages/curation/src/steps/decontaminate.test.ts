import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { gzipSync, gunzipSync } from "node:zlib";
import { parsePipeline, type StepConfig } from "@tokenmill/domain";
import { describe, expect, it } from "vitest";
import { normalizedWords, ngramText } from "../filters/decontam.js";
import type { Doc } from "../types.js";
import { createSteps } from "./registry.js";

// Copies of the shared data files (test/fixtures/data, see its PROVENANCE.md).
const SHARED = new URL("../../../../test/fixtures/data/", import.meta.url);
const readGz = (url: URL) =>
  gunzipSync(readFileSync(url))
    .toString("utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; text: string; meta: Record<string, unknown> });
const toDocs = (recs: { id: string; text: string }[]): Doc[] => recs.map((r, i) => ({ doc_id: r.id, text: r.text, line: i + 1, byte_offset: 0, fields: {} }));

async function decontaminate(params: Record<string, unknown> = {}) {
  const spec = parsePipeline({ version: 1, name: "t", steps: [{ step: "decontaminate", ...params }, { step: "tokenize" }] });
  return (await createSteps({ ...spec, steps: [spec.steps[0] as StepConfig] }))[0]!;
}

describe("decontaminate", () => {
  it("normalizes words: lowercase, punctuation and whitespace only separate", () => {
    const w = normalizedWords("Janet’s ducks lay 16 eggs—per day; She's (café)!");
    expect(ngramText(w, 0, w.count)).toBe("janet s ducks lay 16 eggs per day she s café");
  });

  it("drops every MATH500 problem present in the MATH test set, naming set, item and n-gram", async () => {
    const math500 = readGz(new URL("../../../../data/eval/math500.jsonl.gz", import.meta.url));
    const problems = new Set(math500.map((r) => r.meta.problem));
    const test = readGz(new URL("math/math_test_5000.jsonl.gz", SHARED));
    const members = test.filter((r) => problems.has(r.meta.problem));
    expect(members).toHaveLength(500);
    const out = await (await decontaminate({ eval_sets: ["math500"] })).processBatch(toDocs(test));
    const dropped = new Map(out.dropped.map((d) => [d.doc_id, d]));
    for (const m of members) expect(dropped.get(m.id)?.reason, m.id).toBe("decontaminate:math500");
    const d = dropped.get(members[0]!.id)!;
    expect(d.detail).toMatch(/^math500-test-[a-z_]+-\d+: 13-gram "([a-z0-9\p{L}]+ ){12}[a-z0-9\p{L}]+"$/u);
    // Other MATH test problems sharing a 13-gram with a MATH500 item are dropped too (same templates,
    // same solution phrases); none of the 5,000 is lost.
    expect(out.kept.length + out.dropped.length).toBe(5000);
  });

  it("drops every GSM8K test question in the Socratic variant", async () => {
    const socratic = readGz(new URL("dedup_quality/gsm8k_test_socratic_contaminated.jsonl.gz", SHARED));
    const out = await (await decontaminate()).processBatch(toDocs(socratic));
    expect(out.kept).toHaveLength(0);
    expect(new Set(out.dropped.map((d) => d.reason))).toEqual(new Set(["decontaminate:gsm8k_test"]));
    expect(out.dropped[0]!.detail).toBe('gsm8k-test-0000: 13-gram "janet s ducks lay 16 eggs per day she eats three for breakfast"');
  });

  it("keeps clean text and respects n and min_matches", async () => {
    const clean = toDocs(readGz(new URL("../../../../data/samples/wikitext2_articles_first60.jsonl.gz", import.meta.url)).slice(0, 40));
    expect((await (await decontaminate()).processBatch(clean)).dropped).toHaveLength(0);
    const q = "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning.";
    const s13 = await decontaminate({ eval_sets: ["gsm8k_test"] });
    expect((await s13.processBatch(toDocs([{ id: "a", text: q }]))).dropped).toHaveLength(1);
    // 15 words share 3 distinct 13-grams with the item: min_matches 4 keeps it, 3 drops it.
    expect((await (await decontaminate({ eval_sets: ["gsm8k_test"], min_matches: 4 })).processBatch(toDocs([{ id: "a", text: q }]))).dropped).toHaveLength(0);
    const three = await (await decontaminate({ eval_sets: ["gsm8k_test"], min_matches: 3 })).processBatch(toDocs([{ id: "a", text: q }]));
    expect(three.dropped[0]!.detail).toMatch(/\(3 distinct n-grams\)$/);
    // A 20-gram needs 20 shared words.
    expect((await (await decontaminate({ eval_sets: ["gsm8k_test"], ngram: 20 })).processBatch(toDocs([{ id: "a", text: q }]))).dropped).toHaveLength(0);
  });

  it("fails loudly when an eval set is missing or empty", async () => {
    const dir = await mkdtemp(join(tmpdir(), "evalsets-"));
    await expect(decontaminate({ eval_sets: ["humaneval"], eval_dir: dir })).rejects.toThrow(/eval set "humaneval" is missing: cannot read .*humaneval\.jsonl\.gz/);
    await writeFile(join(dir, "humaneval.jsonl.gz"), gzipSync("\n"));
    await expect(decontaminate({ eval_sets: ["humaneval"], eval_dir: dir })).rejects.toThrow(/eval set "humaneval" at .* is empty/);
    await writeFile(join(dir, "humaneval.jsonl.gz"), gzipSync('{"id":"x","text":"too short"}\n'));
    await expect(decontaminate({ eval_sets: ["humaneval"], eval_dir: dir })).rejects.toThrow(/yields no 13-grams/);
  });
});
