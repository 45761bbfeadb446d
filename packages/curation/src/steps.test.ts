import { DEFAULT_PIPELINE, parsePipeline, STEP_NAMES, type StepConfig } from "@tokenmill/domain";
import { describe, expect, it } from "vitest";
import { countCodePoints, countWords, createLengthStep } from "./steps/length.js";
import { normalizeText } from "./steps/normalize.js";
import { createSteps, STEP_REGISTRY } from "./steps/registry.js";
import { loadTokenizer } from "./tokenizer.js";
import type { Doc } from "./types.js";

const doc = (text: string, i = 0): Doc => ({ doc_id: `d${i}`, text, line: i + 1, byte_offset: i * 10, fields: {} });
const stepConfig = (step: string, params: Record<string, unknown> = {}) =>
  parsePipeline({ version: 1, name: "t", steps: [{ step, ...params }, ...(step === "tokenize" ? [] : [{ step: "tokenize" }])] })
    .steps[0] as StepConfig;

describe("normalize", () => {
  it("applies the Unicode form, strip and blank-line collapsing", () => {
    expect(normalizeText("  e\u0301  ", "NFC", true, false)).toBe("é");
    expect(normalizeText("ﬁ", "NFKC", false, false)).toBe("fi");
    expect(normalizeText("a\n\n\n \n\nb\n\nc", "NFC", false, true)).toBe("a\n\nb\n\nc");
    expect(normalizeText(" a\n\n\nb ", "NFC", false, false)).toBe(" a\n\n\nb ");
  });
});

describe("length", () => {
  it("counts code points (astral = 1) and Python-style whitespace words", () => {
    expect(countCodePoints("a😀b")).toBe(3);
    expect(countCodePoints("x".repeat(100), 10)).toBe(10);
    expect(countWords("  one\ttwo\u00a0three\u3000four\n")).toBe(4);
    expect(countWords("")).toBe(0);
  });

  it("drops with <step>:<rule> reasons and keeps order", async () => {
    const step = createLengthStep(stepConfig("length", { min_chars: 3, max_chars: 10, min_words: 2 }));
    const out = await step.processBatch([doc("ab", 0), doc("hello world", 1), doc("one two", 2), doc("solo", 3), doc("😀😀 😀", 4)]);
    expect(out.kept.map((d) => d.doc_id)).toEqual(["d2", "d4"]);
    expect(out.dropped.map((d) => [d.doc_id, d.reason])).toEqual([
      ["d0", "length:too_short"],
      ["d1", "length:too_long"],
      ["d3", "length:too_few_words"],
    ]);
  });
});

describe("registry", () => {
  it("implements every catalog step", async () => {
    expect(Object.keys(STEP_REGISTRY).sort()).toEqual([...STEP_NAMES].sort());
    expect((await createSteps(DEFAULT_PIPELINE)).map((s) => s.name)).toEqual(["normalize", "length", "tokenize"]);
  });
});

describe("llama3 tokenizer", () => {
  it("describes the full vocabulary", async () => {
    const { info } = await loadTokenizer("llama3");
    expect(info).toMatchObject({ id: "llama3", vocab_size: 128256, eos_id: 128001 });
    expect(info.vocab_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await loadTokenizer("llama3")).toBe(await loadTokenizer("llama3"));
  });

  it("tokenizes special-token spellings as text, adds no BOS/EOS", async () => {
    const tok = await loadTokenizer("llama3");
    const [hello, special] = await tok.encodeBatch(["Hello world", "a<|eot_id|>b"]);
    // Reference ids from Python tokenizers (encode_special_tokens=True, add_special_tokens=False).
    expect([...hello!]).toEqual([9906, 1917]);
    expect([...special!].every((id) => id < 128000)).toBe(true);
    expect([...special!]).toEqual([64, 27, 91, 68, 354, 851, 91, 29, 65]);
  });

  it("drops documents under min_tokens", async () => {
    const [step] = await createSteps(parsePipeline({ version: 1, name: "t", steps: [{ step: "tokenize", min_tokens: 3 }] }));
    const out = await step!.processBatch([doc("Hi", 0), doc("Hello there, world", 1)]);
    expect(out.dropped.map((d) => d.reason)).toEqual(["tokenize:too_few_tokens"]);
    expect(out.kept[0]!.tokens).toBeInstanceOf(Uint32Array);
  });
});
