import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { LID176_LABELS } from "./lid176.js";
import { MAX_PARAM_STRING, parsePipeline } from "./pipeline.js";

const pipeline = (...steps: Record<string, unknown>[]) => ({ version: 1, name: "p", steps: [...steps, { step: "tokenize" }] });
const fieldOf = (input: unknown): string | undefined => {
  try {
    parsePipeline(input);
    return undefined;
  } catch (err) {
    return (err as { field?: string }).field;
  }
};

describe("pipelines the README calls invalid are refused, naming the parameter", () => {
  it.each([
    ["quality_classifier without model", pipeline({ step: "quality_classifier" }), "steps[0].model"],
    ["quality_classifier with an empty model", pipeline({ step: "quality_classifier", model: "" }), "steps[0].model"],
    ["hash_bits 48", pipeline({ step: "minhash_dedup", hash_bits: 48 }), "steps[0].hash_bits"],
    ["min_chars > max_chars", pipeline({ step: "length", min_chars: 500, max_chars: 100 }), "steps[0].min_chars"],
    ["min_doc_words > max_doc_words", pipeline({ step: "gopher_quality", min_doc_words: 200, max_doc_words: 100 }), "steps[0].min_doc_words"],
    ["min_avg_word_length > max_avg_word_length", pipeline({ step: "gopher_quality", min_avg_word_length: 12, max_avg_word_length: 10 }), "steps[0].min_avg_word_length"],
    ["an unknown language", pipeline({ step: "language_id", languages: ["en", "klingon"] }), "steps[0].languages[1]"],
    ["a NUL-free but huge string", pipeline({ step: "quality_classifier", model: "m".repeat(MAX_PARAM_STRING + 1) }), "steps[0].model"],
    ["a huge list", pipeline({ step: "gopher_quality", stop_words: Array.from({ length: 10_001 }, (_, i) => `w${i}`) }), "steps[0].stop_words"],
    ["a non-finite-looking number", pipeline({ step: "length", min_chars: 1e308 }), "steps[0].min_chars"],
  ])("%s", (_what, input, field) => {
    expect(fieldOf(input)).toBe(field);
  });

  it("accepts what the README allows: equal bounds, a 0 bound that disables its rule, 32-bit hashes, known languages", () => {
    expect(fieldOf(pipeline({ step: "length", min_chars: 100, max_chars: 100 }))).toBeUndefined();
    expect(fieldOf(pipeline({ step: "gopher_quality", min_doc_words: 50, max_doc_words: 0 }))).toBeUndefined();
    expect(fieldOf(pipeline({ step: "gopher_quality", min_avg_word_length: 3, max_avg_word_length: 0 }))).toBeUndefined();
    expect(fieldOf(pipeline({ step: "minhash_dedup", hash_bits: 32 }))).toBeUndefined();
    expect(fieldOf(pipeline({ step: "language_id", languages: ["en", "de", "zh", "yue", "als"] }))).toBeUndefined();
    expect(fieldOf(pipeline({ step: "language_id", languages: [] }))).toBeUndefined();
    expect(fieldOf(pipeline({ step: "quality_classifier", model: "dclm@0123456789abcdef" }))).toBeUndefined();
  });

  it("never echoes more than a short prefix of a bad value", () => {
    try {
      parsePipeline(pipeline({ step: "length", min_chars: "x".repeat(100_000) }));
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message.length).toBeLessThan(200);
    }
  });
});

describe("lid.176 labels", () => {
  it("are exactly the labels of the model the language_id step runs", () => {
    // The model ships inside fasttext.wasm.js; its dictionary stores each label as `__label__<code>`.
    const require = createRequire(import.meta.url);
    const pkg = dirname(require.resolve("fasttext.wasm.js/package.json", { paths: [join(import.meta.dirname, "../../curation")] }));
    const model = readFileSync(join(pkg, "dist/models/language-identification/assets/lid.176.ftz")).toString("latin1");
    const labels = new Set([...model.matchAll(/__label__([a-z_]+)/g)].map((m) => m[1]!));
    expect(labels.size).toBe(176);
    expect([...LID176_LABELS].sort()).toEqual([...labels].sort());
  });
});
