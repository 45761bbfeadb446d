import { readdirSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Tokenizer } from "tokenizers";
import { LLAMA3_TOKENIZER_JSON } from "../tokenizer.js";
import type { BpeTokenizerJson } from "./llama3.js";

/**
 * The reference for the tests: Hugging Face `tokenizers` (node binding) on Llama-3's tokenizer.json
 * without its added tokens, so that special-token spellings are ordinary text.
 */
export async function loadReference(): Promise<{ json: BpeTokenizerJson; hf: Tokenizer }> {
  const json = JSON.parse(await readFile(LLAMA3_TOKENIZER_JSON, "utf8")) as BpeTokenizerJson & { added_tokens: unknown[] };
  return { json, hf: Tokenizer.fromString(JSON.stringify({ ...json, added_tokens: [] })) };
}

export async function referenceIds(hf: Tokenizer, texts: string[]): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += 512) {
    const encodings = await hf.encodeBatch(texts.slice(i, i + 512), { addSpecialTokens: false });
    for (const e of encodings) out.push(e.getIds());
  }
  return out;
}

/** The `text` of every line of every *.jsonl.gz under `dir`. */
export function jsonlTexts(dir: string): { file: string; texts: string[] }[] {
  const walk = (d: string): string[] =>
    readdirSync(d)
      .flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]))
      .filter((f) => f.endsWith(".jsonl.gz"))
      .sort();
  return walk(dir).map((file) => ({
    file,
    texts: gunzipSync(readFileSync(file))
      .toString("utf8")
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => (JSON.parse(line) as { text: string }).text),
  }));
}
