import type { Doc } from "../types.js";
import { wordTokenize } from "./spacy-tokenizer.js";

// The three word-based filters tokenize the same text; keep the tokens while the text is unchanged
// (c4_quality or pii in between rewrite it, and then the tokens are recomputed).
const cache = new WeakMap<Doc, { text: string; words: string[] }>();

/** datatrove's English word tokens of the document's current text. */
export function docWords(doc: Doc): string[] {
  const hit = cache.get(doc);
  if (hit && hit.text === doc.text) return hit.words;
  const words = wordTokenize(doc.text);
  cache.set(doc, { text: doc.text, words });
  return words;
}
