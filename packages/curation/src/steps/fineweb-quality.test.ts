import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parsePipeline, type StepConfig } from "@tokenmill/domain";
import { describe, expect, it } from "vitest";
import { TERMINAL_PUNCTUATION } from "../filters/text.js";
import type { Doc } from "../types.js";
import { createSteps } from "./registry.js";
import type { Step } from "./step.js";

const doc = (text: string, id = "d"): Doc => ({ doc_id: id, text, line: 1, byte_offset: 0, fields: {} });

async function step(name: string, params: Record<string, unknown> = {}): Promise<Step> {
  const spec = parsePipeline({ version: 1, name: "t", steps: [{ step: name, ...params }, { step: "tokenize" }] });
  return (await createSteps({ ...spec, steps: [spec.steps[0] as StepConfig] }))[0]!;
}

async function verdict(name: string, text: string, params: Record<string, unknown> = {}): Promise<string | null> {
  const out = await (await step(name, params)).processBatch([doc(text)]);
  return out.dropped[0]?.reason ?? null;
}

const FILTERS = ["gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"] as const;

// Verdicts of datatrove 0.10.0's own filter classes (defaults, spaCy 3.8 `blank("en")`) and of the
// June 2024 FineWebQualityFilter and GopherQualityFilter, on sample-corpus documents and hand-written edge cases
// (docs/filters.md says how the file was produced). A null verdict keeps the document.
interface Golden {
  id: string;
  text: string;
  datatrove_0_10: Record<(typeof FILTERS)[number], string | null>;
  fineweb_2024: string | null;
  gopher_quality_2024: string | null;
  c4_text_sha1?: string;
}
const golden: Golden[] = readFileSync(new URL("../../../../test/fixtures/curation/datatrove-verdicts.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Golden);

/** datatrove's rule names, as our reasons spell them; where datatrove divides by zero (an empty text) we drop as `empty`. */
const ruleName = (r: string) =>
  r === "ZeroDivisionError" ? "empty" : r === "gopher_enough_stop_words" ? "too_few_stop_words" : r.replace(/^gopher_/, "");
const reason = (name: string, r: string | null) => (r === null ? null : `${name}:${ruleName(r)}`);

describe("verdicts equal datatrove 0.10.0's (golden file)", () => {
  it("covers every definition difference: edge cases where the two FineWeb definitions disagree", () => {
    expect(golden.length).toBeGreaterThanOrEqual(40);
    expect(golden.some((g) => g.datatrove_0_10.gopher_quality !== g.gopher_quality_2024)).toBe(true);
    const differ = golden.filter((g) => g.datatrove_0_10.fineweb_quality !== g.fineweb_2024);
    expect(differ.length).toBeGreaterThanOrEqual(10);
    // both directions: documents only the current release drops and documents only 2024 drops
    expect(differ.some((g) => g.datatrove_0_10.fineweb_quality === null)).toBe(true);
    expect(differ.some((g) => g.fineweb_2024 === null)).toBe(true);
  });

  it.each(golden.map((g) => [g.id, g] as const))("%s: all four filters with their defaults", async (_id, g) => {
    for (const name of FILTERS) {
      const out = await (await step(name)).processBatch([doc(g.text)]);
      expect(out.dropped[0]?.reason ?? null, name).toBe(reason(name, g.datatrove_0_10[name]));
      if (name === "c4_quality" && g.c4_text_sha1) expect(createHash("sha1").update(out.kept[0]!.text).digest("hex")).toBe(g.c4_text_sha1);
    }
  });

  it.each(golden.map((g) => [g.id, g] as const))("%s: definition fineweb-2024", async (_id, g) => {
    expect(await verdict("fineweb_quality", g.text, { definition: "fineweb-2024" })).toBe(reason("fineweb_quality", g.fineweb_2024));
    expect(await verdict("gopher_quality", g.text, { definition: "fineweb-2024" })).toBe(reason("gopher_quality", g.gopher_quality_2024));
  });
});

describe("fineweb_quality definitions (hand-checked)", () => {
  const long = "This line is comfortably longer than thirty characters and ends well.";
  const heads = Array.from({ length: 25 }, (_, i) => `Heading number ${i} of this rather long list`);
  const v = (text: string, definition?: string) => verdict("fineweb_quality", text, definition ? { definition } : {});

  it("defaults to the current release", () => {
    const spec = parsePipeline({ version: 1, name: "t", steps: [{ step: "fineweb_quality" }, { step: "tokenize" }] });
    expect(spec.steps[0]).toMatchObject({ definition: "datatrove-0.10", line_punct_thr: 0.12, short_line_thr: 0.67 });
    expect(() => parsePipeline({ version: 1, name: "t", steps: [{ step: "fineweb_quality", definition: "fineweb-2023" }, { step: "tokenize" }] })).toThrow(
      /steps\[0\]\.definition: must be one of datatrove-0\.10, fineweb-2024/,
    );
  });

  it("blank lines: ignored now, short unpunctuated lines in 2024", async () => {
    const text = [long, "", "", "", "", `${long} Again.`, ""].join("\n"); // 2024: 5/7 lines are blank, so short
    expect(await v(text)).toBeNull();
    expect(await v(text, "fineweb-2024")).toBe("fineweb_quality:short_line_ratio");
    expect(await v(" \n\t\n")).toBe("fineweb_quality:empty");
    expect(await v(" \n\t\n", "fineweb-2024")).toBe("fineweb_quality:line_punct_ratio");
  });

  it("stop characters: TERMINAL_PUNCTUATION now, . ' \" ! ? in 2024", async () => {
    expect(TERMINAL_PUNCTUATION.size).toBe(159);
    expect(TERMINAL_PUNCTUATION.has("\u{11f43}")).toBe(true); // astral: matched as one code point
    const ending = (end: string) => [...heads.slice(0, 8).map((h) => `${h}${end}`), ...heads.slice(8, 16)].join("\n");
    for (const end of ["。", "‽", "！", "\u{11f43}"]) {
      expect(await v(ending(end)), end).toBeNull();
      expect(await v(ending(end), "fineweb-2024"), end).toBe("fineweb_quality:line_punct_ratio");
    }
    for (const end of ["'", '"']) {
      expect(await v(ending(end)), end).toBe("fineweb_quality:line_punct_ratio");
      expect(await v(ending(end), "fineweb-2024"), end).toBeNull();
    }
  });

  it("thresholds: a ratio equal to the threshold drops only in 2024, with the comparison in the detail", async () => {
    const sents = Array.from({ length: 3 }, (_, i) => `Sentence number ${i} is long and ends properly.`);
    const atThr = [...sents, ...heads.slice(0, 22)].join("\n"); // 3/25 = 0.12
    expect(await v(atThr)).not.toBe("fineweb_quality:line_punct_ratio");
    const out = await (await step("fineweb_quality", { definition: "fineweb-2024" })).processBatch([doc(atThr)]);
    expect(out.dropped[0]).toMatchObject({ reason: "fineweb_quality:line_punct_ratio", detail: "lines ending in punctuation 3/25 = 0.12 ≤ 0.12" });
    const below = [...sents.slice(0, 2), ...heads.slice(0, 23)].join("\n"); // 2/25 = 0.08
    const cur = await (await step("fineweb_quality")).processBatch([doc(below)]);
    expect(cur.dropped[0]).toMatchObject({ reason: "fineweb_quality:line_punct_ratio", detail: "lines ending in punctuation 2/25 = 0.08 < 0.12" });
  });
});

describe("gopher_quality stop words (hand-checked)", () => {
  const text = `${Array.from({ length: 20 }, (_, i) => `the word${i} runs fast`).join(" ")}.`; // 20 × "the", no other stop word
  it("counts distinct stop words now, stop-word tokens in 2024", async () => {
    const out = await (await step("gopher_quality")).processBatch([doc(text)]);
    expect(out.dropped[0]).toMatchObject({ reason: "gopher_quality:too_few_stop_words", detail: "1 distinct stop words < 2" });
    expect(await verdict("gopher_quality", text, { definition: "fineweb-2024" })).toBeNull();
    expect(await verdict("gopher_quality", `${text.slice(0, -1)} and stops.`)).toBeNull();
  });
});
