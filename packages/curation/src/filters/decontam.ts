import type { EvalItem } from "./eval-sets.js";

/**
 * Word n-gram index over eval items. Words are maximal runs of letters, digits and combining marks
 * of the lowercased text (so punctuation and whitespace only separate words). An n-gram's key is a
 * 53-bit number combined from two 32-bit word hashes; a key hit is confirmed by comparing the words,
 * so the index never reports a false match.
 */
export interface Words {
  text: string;
  start: Int32Array;
  end: Int32Array;
  h1: Int32Array;
  h2: Int32Array;
  count: number;
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

function isWordChar(c: number, text: string, i: number): boolean {
  if (c < 0x80) return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
  if (c >= 0xd800 && c <= 0xdbff) return WORD_CHAR.test(String.fromCodePoint(text.codePointAt(i)!));
  if (c >= 0xdc00 && c <= 0xdfff) return i > 0 && isWordChar(text.charCodeAt(i - 1), text, i - 1);
  return WORD_CHAR.test(text[i]!);
}

/** Splits lowercased text into words, hashing each as it goes (no per-word strings). */
export function normalizedWords(raw: string): Words {
  const text = raw.toLowerCase();
  let cap = Math.max(16, text.length >> 2);
  let start = new Int32Array(cap);
  let end = new Int32Array(cap);
  let h1a = new Int32Array(cap);
  let h2a = new Int32Array(cap);
  let n = 0;
  let i = 0;
  const len = text.length;
  while (i < len) {
    let c = text.charCodeAt(i);
    if (!isWordChar(c, text, i)) {
      i++;
      continue;
    }
    const s = i;
    let h1 = 0x811c9dc5 | 0;
    let h2 = 0x9e3779b9 | 0;
    while (i < len && isWordChar(c, text, i)) {
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 + c, 0x85ebca6b) ^ (h2 >>> 13);
      i++;
      c = text.charCodeAt(i);
    }
    if (n === cap) {
      cap *= 2;
      start = grow(start, cap);
      end = grow(end, cap);
      h1a = grow(h1a, cap);
      h2a = grow(h2a, cap);
    }
    start[n] = s;
    end[n] = i;
    h1a[n] = h1;
    h2a[n] = h2 ^ (i - s);
    n++;
  }
  return { text, start, end, h1: h1a, h2: h2a, count: n };
}

function grow(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

function ngramKey(w: Words, i: number, n: number): number {
  let a = 0;
  let b = 0;
  for (let k = i; k < i + n; k++) {
    a = (Math.imul(a, 0x01000193) + w.h1[k]!) | 0;
    b = (Math.imul(b ^ (b >>> 15), 0x2c1b3c6d) + w.h2[k]!) | 0;
  }
  return (a >>> 0) * 0x200000 + (b >>> 11);
}

function sameWords(a: Words, i: number, b: Words, j: number, n: number): boolean {
  for (let k = 0; k < n; k++) {
    const la = a.end[i + k]! - a.start[i + k]!;
    if (la !== b.end[j + k]! - b.start[j + k]!) return false;
    if (a.text.substr(a.start[i + k]!, la) !== b.text.substr(b.start[j + k]!, la)) return false;
  }
  return true;
}

export function ngramText(w: Words, i: number, n: number): string {
  const parts: string[] = [];
  for (let k = i; k < i + n; k++) parts.push(w.text.slice(w.start[k]!, w.end[k]!));
  return parts.join(" ");
}

export interface IndexedItem {
  set: string;
  id: string;
  words: Words;
}

export interface Contamination {
  item: IndexedItem;
  /** the first matched n-gram, words joined with spaces */
  ngram: string;
  matches: number;
}

export class NgramIndex {
  readonly items: IndexedItem[] = [];
  /** key → item index × 2^20 + word position of the n-gram's first occurrence */
  private readonly map = new Map<number, number>();
  /** items with fewer than n words: they cannot match and are reported */
  readonly shortItems: IndexedItem[] = [];

  constructor(readonly n: number) {}

  add(set: string, items: EvalItem[]): number {
    let added = 0;
    for (const it of items) {
      const words = normalizedWords(it.text);
      const entry: IndexedItem = { set, id: it.id, words };
      if (words.count < this.n) {
        this.shortItems.push(entry);
        continue;
      }
      const idx = this.items.push(entry) - 1;
      if (words.count >= 1 << 20) throw new Error(`decontaminate: eval item ${it.id} has more than 2^20 words`);
      for (let i = 0; i + this.n <= words.count; i++) {
        const k = ngramKey(words, i, this.n);
        if (!this.map.has(k)) {
          this.map.set(k, idx * (1 << 20) + i);
          added++;
        }
      }
    }
    return added;
  }

  get size(): number {
    return this.map.size;
  }

  /** The first eval item sharing at least `minMatches` distinct n-grams with the text, or null. */
  find(text: string, minMatches: number): Contamination | null {
    const w = normalizedWords(text);
    const n = this.n;
    let perItem: Map<number, { keys: Set<number>; first: number }> | undefined;
    for (let i = 0; i + n <= w.count; i++) {
      const k = ngramKey(w, i, n);
      const v = this.map.get(k);
      if (v === undefined) continue;
      const itemIdx = Math.floor(v / (1 << 20));
      const item = this.items[itemIdx]!;
      if (!sameWords(w, i, item.words, v % (1 << 20), n)) continue;
      if (minMatches <= 1) return { item, ngram: ngramText(w, i, n), matches: 1 };
      perItem ??= new Map();
      let e = perItem.get(itemIdx);
      if (!e) perItem.set(itemIdx, (e = { keys: new Set(), first: i }));
      e.keys.add(k);
      if (e.keys.size >= minMatches) return { item, ngram: ngramText(w, e.first, n), matches: e.keys.size };
    }
    return null;
  }
}
