import { join } from "node:path";
import type { Tokenizer } from "tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { tokenBytes } from "./byte-level.js";
import { jsonlTexts, loadReference, referenceIds } from "./hf-reference.js";
import { BpeEncoder, type BpeTokenizerJson } from "./llama3.js";

const ROOT = join(import.meta.dirname, "../../../..");

let json: BpeTokenizerJson;
let hf: Tokenizer;
let encoder: BpeEncoder;
beforeAll(async () => {
  ({ json, hf } = await loadReference());
  encoder = new BpeEncoder(json);
});

/** Indexes (and the first texts) where the encoder and tokenizers disagree. */
async function mismatches(texts: string[], enc = encoder): Promise<string[]> {
  const expected = await referenceIds(hf, texts);
  const out: string[] = [];
  texts.forEach((text, i) => {
    const got = [...enc.encode(text)];
    if (JSON.stringify(got) !== JSON.stringify(expected[i])) out.push(`#${i} ${JSON.stringify(text.slice(0, 80))}`);
  });
  return out;
}

describe("Llama-3 BPE encoder", () => {
  it.each(["data/samples", "test/fixtures/data"])("matches tokenizers on every document under %s", async (dir) => {
    const files = jsonlTexts(join(ROOT, dir));
    expect(files.length).toBeGreaterThan(0);
    for (const { file, texts } of files) {
      expect(texts.length, file).toBeGreaterThan(0);
      expect(await mismatches(texts), file).toEqual([]);
    }
  });

  it("matches tokenizers on edge cases", async () => {
    const cases = [
      "",
      "<|eot_id|>",
      "<|begin_of_text|>Hello<|end_of_text|>",
      "DON'T WE'LL It'S i'M they'Re YOU'VE he'D 'ſ 'K",
      "1234567 12 3.14159 ١٢٣٤ Ⅻ",
      "a\r\nb\rc\n\r\nd\n\n\n  \r\n",
      "trailing spaces   ",
      "\ttabs\t\t and\t \tmixed \t",
      "emoji 👍🏽 👨‍👩‍👧 🇫🇷",
      "中文字符测试，日本語のテキスト。한국어",
      "combining e\u0301 a\u0308 \u0301\u0301x",
      "lone \ud800 surrogate",
      "\udc00",
      "ends with a high surrogate \ud83d",
      "\u0085 \u00a0 \u2028 \u3000 \ufeff nbsp",
      "Unicode 17 letters \u{10940}\u{10941} and numbers \u{11de0}",
      "\u0000\u0001 control",
      "        indented code\n    return x",
    ];
    expect(await mismatches(cases)).toEqual([]);
  });

  it("encodes special-token spellings as text and adds no BOS/EOS", () => {
    // Reference ids from Python tokenizers (encode_special_tokens=True, add_special_tokens=False).
    expect([...encoder.encode("Hello world")]).toEqual([9906, 1917]);
    expect([...encoder.encode("a<|eot_id|>b")]).toEqual([64, 27, 91, 68, 354, 851, 91, 29, 65]);
  });

  it("replaces lone surrogates with U+FFFD, as the binding's string conversion does", () => {
    expect([...encoder.encode("a\ud800b")]).toEqual([...encoder.encode("a\ufffdb")]);
  });

  it("matches tokenizers on 1 MB documents, long words included", async () => {
    const sample = jsonlTexts(join(ROOT, "data/samples")).flatMap((f) => f.texts);
    let mixed = "";
    for (let i = 0; mixed.length < 1_000_000; i++) mixed += sample[i % sample.length] + "\n";
    let seed = 7;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let letters = "";
    while (letters.length < 1_000_000) letters += "abcdefghijklmnopqrstuvwxyzé"[Math.floor(random() * 27)];
    // Words of 40 to 400 bytes go through the heap-based merge loop.
    const words = Array.from({ length: 300 }, (_, i) => letters.slice(i * 400, i * 400 + 20 + i)).join(" ");
    expect(await mismatches([mixed, letters, "a".repeat(1_000_000), " ".repeat(100_000) + "x", "9".repeat(100_001), words])).toEqual([]);
  });

  it("matches tokenizers on the text of every vocabulary token", async () => {
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const texts: string[] = [];
    for (const token of Object.keys(json.model.vocab)) {
      try {
        texts.push(decoder.decode(tokenBytes(token)));
      } catch {
        // Part of a UTF-8 sequence: no text spells it.
      }
    }
    expect(texts.length).toBeGreaterThan(100_000);
    expect(await mismatches(texts)).toEqual([]);
  });

  it("gives the same ids when its memo is emptied often", async () => {
    const small = new BpeEncoder(json, { cacheSize: 16 });
    const texts = jsonlTexts(join(ROOT, "data/samples"))[0]!.texts.slice(0, 50);
    for (const text of texts) expect([...small.encode(text)]).toEqual([...encoder.encode(text)]);
  });

  it("refuses a tokenizer.json with another pipeline", () => {
    expect(() => new BpeEncoder({ ...json, normalizer: { type: "NFC" } })).toThrow(/normalizer/);
    expect(() => new BpeEncoder({ ...json, model: { ...json.model, ignore_merges: false } })).toThrow(/ignore_merges/);
  });
});
