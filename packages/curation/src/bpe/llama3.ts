import { BYTE_TO_CHAR, tokenBytes, utf8Into } from "./byte-level.js";
import { MergeTable, mergeWord } from "./merges.js";
import { LLAMA3_SPLIT_PATTERN, pieceEnd } from "./pre-tokenize.js";

/** The parts of a tokenizer.json this encoder reads. */
export interface BpeTokenizerJson {
  normalizer: unknown;
  pre_tokenizer: unknown;
  model: { type: string; vocab: Record<string, number>; merges: (string | [string, string])[]; ignore_merges?: boolean; byte_fallback?: boolean; dropout?: number | null };
}

export interface BpeEncoderOptions {
  /** Distinct multi-token pre-tokens remembered before the memo is emptied. Default 100,000. */
  cacheSize?: number;
}

/**
 * The tokenizer.json pipeline of Llama-3 in TypeScript, token-identical to Hugging Face
 * `tokenizers` without added tokens: no normalizer, the Llama-3 regex split, byte-level mapping
 * and a byte-level BPE with `ignore_merges` (a pre-token that is itself in the vocabulary is one
 * token). Text that spells a special token is ordinary text; no BOS/EOS is added.
 *
 * Lone surrogates become U+FFFD first, as the node binding's string conversion does.
 */
export class BpeEncoder {
  private readonly table: MergeTable;
  private readonly byteIds = new Int32Array(256);
  /** Pre-token -> id for every vocabulary token that is valid UTF-8: the ignore_merges lookup. */
  private readonly direct: Map<string, number>;
  /** Pre-token -> ids for multi-token pre-tokens seen before. */
  private memo = new Map<string, Uint32Array>();
  private readonly cacheSize: number;
  private bytes = new Uint8Array(1024);
  private symbols = new Int32Array(1024);
  private out = new Uint32Array(1 << 16);

  constructor(json: BpeTokenizerJson, options: BpeEncoderOptions = {}) {
    checkPipeline(json);
    this.cacheSize = options.cacheSize ?? 100_000;
    const vocab = json.model.vocab;
    // ignoreBOM: otherwise the token for BOM + "\n" would decode to "\n" and shadow the real one.
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    this.direct = new Map();
    for (const [token, id] of Object.entries(vocab)) {
      const bytes = tokenBytes(token);
      if (!bytes) throw new Error(`vocabulary token ${JSON.stringify(token)} is not byte-level`);
      try {
        this.direct.set(decoder.decode(bytes), id);
      } catch {
        // Part of a UTF-8 sequence: reachable only by merges.
      }
    }
    for (let b = 0; b < 256; b++) {
      const id = vocab[BYTE_TO_CHAR[b]!];
      if (id === undefined) throw new Error(`vocabulary has no token for byte ${b}`);
      this.byteIds[b] = id;
    }
    const merges = json.model.merges;
    this.table = new MergeTable(merges.length);
    merges.forEach((m, rank) => {
      const [a, b] = typeof m === "string" ? splitMerge(m) : m;
      const l = vocab[a];
      const r = vocab[b];
      const merged = vocab[a + b];
      if (l === undefined || r === undefined || merged === undefined) throw new Error(`merge ${JSON.stringify(m)} names tokens outside the vocabulary`);
      this.table.set(l, r, rank, merged);
    });
  }

  encode(input: string): Uint32Array {
    const text = toWellFormed(input);
    const len = text.length;
    let out: Uint32Array = this.out;
    let n = 0;
    let pos = 0;
    while (pos < len) {
      const end = pieceEnd(text, pos, len);
      const piece = text.slice(pos, end);
      // A pre-token of k UTF-16 units has at most 3k bytes, so at most 3k tokens.
      if (n + (end - pos) * 3 > out.length) out = this.grow(n, n + (end - pos) * 3);
      pos = end;
      const id = this.direct.get(piece);
      if (id !== undefined) {
        out[n++] = id;
        continue;
      }
      let ids = this.memo.get(piece);
      if (ids === undefined) ids = this.encodePiece(piece);
      out.set(ids, n);
      n += ids.length;
    }
    return out.slice(0, n);
  }

  private encodePiece(piece: string): Uint32Array {
    if (this.bytes.length < piece.length * 3) {
      this.bytes = new Uint8Array(piece.length * 3);
      this.symbols = new Int32Array(piece.length * 3);
    }
    const { bytes, symbols, byteIds } = this;
    const count = utf8Into(piece, 0, piece.length, bytes);
    for (let i = 0; i < count; i++) symbols[i] = byteIds[bytes[i]!]!;
    const m = mergeWord(this.table, symbols, count);
    const ids = Uint32Array.from(symbols.subarray(0, m));
    if (this.memo.size >= this.cacheSize) this.memo = new Map();
    // A slice of a long string keeps the whole document alive; store a copy.
    this.memo.set(piece.length > 12 ? (" " + piece).slice(1) : piece, ids);
    return ids;
  }

  private grow(n: number, need: number): Uint32Array {
    const out = new Uint32Array(Math.max(need, this.out.length * 2));
    out.set(this.out.subarray(0, n));
    this.out = out;
    return out;
  }
}

// ES2024 string methods, present in Node 20 but not in the ES2023 lib this repo compiles against.
type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };
function toWellFormed(s: string): string {
  const w = s as unknown as WellFormed;
  return w.isWellFormed() ? s : w.toWellFormed();
}

function splitMerge(m: string): [string, string] {
  const i = m.indexOf(" ");
  if (i < 0) throw new Error(`merge ${JSON.stringify(m)} is not "a b"`);
  return [m.slice(0, i), m.slice(i + 1)];
}

/** Refuses a tokenizer.json whose pipeline is not the one this encoder implements. */
function checkPipeline(json: BpeTokenizerJson): void {
  const m = json.model;
  if (m.type !== "BPE" || m.ignore_merges !== true || m.byte_fallback || m.dropout) throw new Error("expected a byte-level BPE model with ignore_merges");
  if (json.normalizer !== null) throw new Error("expected no normalizer");
  const pre = json.pre_tokenizer as { type?: string; pretokenizers?: { type: string; pattern?: { Regex?: string }; behavior?: string; invert?: boolean; use_regex?: boolean; add_prefix_space?: boolean }[] };
  const [split, byteLevel, ...rest] = pre.pretokenizers ?? [];
  if (
    pre.type !== "Sequence" ||
    rest.length > 0 ||
    split?.type !== "Split" ||
    split.pattern?.Regex !== LLAMA3_SPLIT_PATTERN ||
    split.behavior !== "Isolated" ||
    split.invert ||
    byteLevel?.type !== "ByteLevel" ||
    byteLevel.use_regex !== false ||
    byteLevel.add_prefix_space
  ) {
    throw new Error("expected the Llama-3 pre-tokenizer: Split (Isolated) then ByteLevel without regex");
  }
}
