import { NgramTable, WordHashes } from "./ngram-hash.js";
import { countOf, cpLen, hasAlpha, hasNonPunct, pyLstrip, pyRstrip, pyStrip, splitLines } from "./text.js";

/** A filter's verdict: null keeps; otherwise the rule that fired and a detail with value and threshold. */
export type Verdict = [rule: string, detail: string] | null;

export const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4))));

export interface GopherRepetitionParams {
  dup_line_frac: number;
  dup_para_frac: number;
  dup_line_char_frac: number;
  dup_para_char_frac: number;
  top_n_grams: [n: number, frac: number][];
  dup_n_grams: [n: number, frac: number][];
}

/** `find_duplicates`: number of repeated elements and their total length in code points. */
export function findDuplicates(items: string[]): [count: number, chars: number] {
  const seen = new Set<string>();
  let count = 0;
  let chars = 0;
  for (const x of items) {
    if (seen.has(x)) {
      count++;
      chars += cpLen(x);
    } else seen.add(x);
  }
  return [count, chars];
}

const PARAGRAPH_SPLIT = /\n{2,}/;
const LINE_SPLIT = /\n+/;

/** datatrove GopherRepetitionFilter.filter, rule for rule. `words` are the document's word tokens. */
export function gopherRepetition(text: string, words: () => string[], p: GopherRepetitionParams): Verdict {
  const textLen = cpLen(text);
  if (textLen === 0) return ["empty", "empty text (datatrove divides by len(text))"];
  const paragraphs = pyStrip(text).split(PARAGRAPH_SPLIT);
  let [dups, chars] = findDuplicates(paragraphs);
  if (p.dup_para_frac && dups / paragraphs.length > p.dup_para_frac) {
    return ["dup_para_frac", `duplicated paragraphs ${dups}/${paragraphs.length} = ${fmt(dups / paragraphs.length)} > ${p.dup_para_frac}`];
  }
  if (p.dup_para_char_frac && chars / textLen > p.dup_para_char_frac) {
    return ["dup_para_char_frac", `chars in duplicated paragraphs ${chars}/${textLen} = ${fmt(chars / textLen)} > ${p.dup_para_char_frac}`];
  }
  const lines = text.split(LINE_SPLIT);
  [dups, chars] = findDuplicates(lines);
  if (p.dup_line_frac && dups / lines.length > p.dup_line_frac) {
    return ["dup_line_frac", `duplicated lines ${dups}/${lines.length} = ${fmt(dups / lines.length)} > ${p.dup_line_frac}`];
  }
  if (p.dup_line_char_frac && chars / textLen > p.dup_line_char_frac) {
    return ["dup_line_char_frac", `chars in duplicated lines ${chars}/${textLen} = ${fmt(chars / textLen)} > ${p.dup_line_char_frac}`];
  }
  const w = words();
  const hashes = new WordHashes(w);
  for (const [n, frac] of p.top_n_grams) {
    if (w.length - n + 1 <= 0) continue;
    const top = topDuplicate(hashes, n);
    if (top / textLen > frac) return [`top_${n}_gram`, `top ${n}-gram chars ${top}/${textLen} = ${fmt(top / textLen)} > ${frac}`];
  }
  for (const [n, frac] of p.dup_n_grams) {
    const rep = allDuplicate(hashes, n);
    if (rep / textLen > frac) return [`duplicated_${n}_n_grams`, `chars in duplicated ${n}-grams ${rep}/${textLen} = ${fmt(rep / textLen)} > ${frac}`];
  }
  return null;
}

const table = new NgramTable();

/** `find_top_duplicate`: len(most common " "-joined n-gram) × its count (ties: first seen). */
function topDuplicate(h: WordHashes, n: number): number {
  const last = h.words.length - n;
  table.reset(last + 1);
  let bestCount = 0;
  let bestFirst = 0;
  for (let i = 0; i <= last; i++) {
    const a = h.key(i, n, true);
    const s = table.slot(a, h.k2, i);
    const c = ++table.count[s]!;
    const f = table.val[s]!;
    if (c > bestCount || (c === bestCount && f < bestFirst)) {
      bestCount = c;
      bestFirst = f;
    }
  }
  return h.charLen(bestFirst, n, true) * bestCount;
}

/** `find_all_duplicate`: chars of "".join n-grams already seen, skipping n words after each hit. */
function allDuplicate(h: WordHashes, n: number): number {
  const total = h.words.length;
  table.reset(Math.max(0, total - n + 1));
  let repeated = 0;
  let idx = 0;
  while (idx < total - n + 1) {
    const a = h.key(idx, n, false);
    const s = table.slot(a, h.k2, idx);
    const at = table.val[s]!;
    if (at !== idx && h.sameConcat(at, idx, n)) {
      repeated += h.charLen(idx, n, false);
      idx += n;
    } else idx++; // new, or (vanishingly rare) a hash collision with a different string: keep the first
  }
  return repeated;
}

export interface GopherQualityParams {
  min_doc_words: number;
  max_doc_words: number;
  min_avg_word_length: number;
  max_avg_word_length: number;
  max_symbol_word_ratio: number;
  max_bullet_lines_ratio: number;
  max_ellipsis_lines_ratio: number;
  max_non_alpha_words_ratio: number;
  min_stop_words: number;
  stop_words: ReadonlySet<string>;
  /**
   * `datatrove-0.10` counts distinct stop words (`len(stop_words & set(words))`, datatrove since
   * January 2025); `fineweb-2024` counts stop-word tokens, as the code FineWeb was built with.
   */
  definition: "datatrove-0.10" | "fineweb-2024";
}

/** datatrove GopherQualityFilter.filter, rule for rule (0 disables a rule, as Python's falsy None/0). */
export function gopherQuality(text: string, words: string[], p: GopherQualityParams): Verdict {
  const nWords = words.length;
  let nNonSymbol = 0;
  let nonSymbolChars = 0;
  let alphaWords = 0;
  let stopWords = 0;
  const distinctStops = new Set<string>();
  for (const w of words) {
    if (hasNonPunct(w)) {
      nNonSymbol++;
      nonSymbolChars += cpLen(w);
    }
    if (hasAlpha(w)) alphaWords++;
    if (p.stop_words.has(w)) {
      stopWords++;
      distinctStops.add(w);
    }
  }
  if (p.min_doc_words && nNonSymbol < p.min_doc_words) return ["short_doc", `${nNonSymbol} non-symbol words < ${p.min_doc_words}`];
  if (p.max_doc_words && nNonSymbol > p.max_doc_words) return ["long_doc", `${nNonSymbol} non-symbol words > ${p.max_doc_words}`];
  // np.mean of an empty list is nan, and every comparison with nan is false.
  const avg = nNonSymbol === 0 ? Number.NaN : nonSymbolChars / nNonSymbol;
  if (p.min_avg_word_length && avg < p.min_avg_word_length) return ["below_avg_threshold", `mean word length ${fmt(avg)} < ${p.min_avg_word_length}`];
  if (p.max_avg_word_length && avg > p.max_avg_word_length) return ["above_avg_threshold", `mean word length ${fmt(avg)} > ${p.max_avg_word_length}`];
  if (nWords === 0) return ["empty", "no words (datatrove divides by the word count)"];
  if (p.max_symbol_word_ratio) {
    const hashes = countOf(text, "#");
    if (hashes / nWords > p.max_symbol_word_ratio) return ["too_many_hashes", `'#' per word ${hashes}/${nWords} = ${fmt(hashes / nWords)} > ${p.max_symbol_word_ratio}`];
    const ell = countOf(text, "...") + countOf(text, "…");
    if (ell / nWords > p.max_symbol_word_ratio) return ["too_many_ellipsis", `ellipses per word ${ell}/${nWords} = ${fmt(ell / nWords)} > ${p.max_symbol_word_ratio}`];
  }
  const lines = splitLines(text);
  if (lines.length === 0) return ["empty", "no lines (datatrove divides by the line count)"];
  if (p.max_bullet_lines_ratio) {
    let bullets = 0;
    for (const l of lines) {
      const s = pyLstrip(l);
      if (s.startsWith("•") || s.startsWith("-")) bullets++;
    }
    if (bullets / lines.length > p.max_bullet_lines_ratio) {
      return ["too_many_bullets", `bullet lines ${bullets}/${lines.length} = ${fmt(bullets / lines.length)} > ${p.max_bullet_lines_ratio}`];
    }
  }
  if (p.max_ellipsis_lines_ratio) {
    let ell = 0;
    for (const l of lines) {
      const s = pyRstrip(l);
      if (s.endsWith("...") || s.endsWith("…")) ell++;
    }
    if (ell / lines.length > p.max_ellipsis_lines_ratio) {
      return ["too_many_end_ellipsis", `lines ending in an ellipsis ${ell}/${lines.length} = ${fmt(ell / lines.length)} > ${p.max_ellipsis_lines_ratio}`];
    }
  }
  // datatrove divides by all tokens here (n_words), not by the non-symbol words.
  if (p.max_non_alpha_words_ratio && alphaWords / nWords < p.max_non_alpha_words_ratio) {
    return ["below_alpha_threshold", `words with a letter ${alphaWords}/${nWords} = ${fmt(alphaWords / nWords)} < ${p.max_non_alpha_words_ratio}`];
  }
  if (p.definition === "fineweb-2024") {
    if (p.min_stop_words && stopWords < p.min_stop_words) return ["too_few_stop_words", `${stopWords} stop words < ${p.min_stop_words}`];
  } else if (p.min_stop_words && distinctStops.size < p.min_stop_words) {
    return ["too_few_stop_words", `${distinctStops.size} distinct stop words < ${p.min_stop_words}`];
  }
  return null;
}
