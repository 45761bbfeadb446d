import { findDuplicates, fmt, type Verdict } from "./gopher.js";
import { cpLen, countOf, pyStrip } from "./text.js";

export interface FineWebParams {
  line_punct_thr: number;
  line_punct_exclude_zero: boolean;
  short_line_thr: number;
  short_line_length: number;
  char_duplicates_ratio: number;
  new_line_ratio: number;
}

const STOP_CHARS = [".", "'", '"', "!", "?"];

/** datatrove FineWebQualityFilter.filter, rule for rule. Lines are `text.split("\n")`. */
export function fineWebQuality(text: string, words: () => string[], p: FineWebParams): Verdict {
  const lines = text.split("\n");
  let punct = 0;
  let short = 0;
  for (const l of lines) {
    if (STOP_CHARS.some((c) => l.endsWith(c))) punct++;
    if (l.length <= p.short_line_length || cpLen(l) <= p.short_line_length) short++;
  }
  let ratio = punct / lines.length;
  if (ratio <= p.line_punct_thr && !(ratio === 0 && p.line_punct_exclude_zero)) {
    return ["line_punct_ratio", `lines ending in punctuation ${punct}/${lines.length} = ${fmt(ratio)} ≤ ${p.line_punct_thr}`];
  }
  ratio = short / lines.length;
  if (ratio >= p.short_line_thr) {
    return ["short_line_ratio", `lines of ≤ ${p.short_line_length} chars ${short}/${lines.length} = ${fmt(ratio)} ≥ ${p.short_line_thr}`];
  }
  const nonEmpty = lines.filter((l) => pyStrip(l) !== "");
  const newlines = countOf(text, "\n");
  const chars = cpLen(text) - newlines;
  if (chars === 0) return ["empty", "only newlines (datatrove divides by the non-newline length)"];
  const dupChars = findDuplicates(nonEmpty)[1];
  ratio = dupChars / chars;
  if (ratio >= p.char_duplicates_ratio) {
    return ["char_dup_ratio", `chars in duplicated lines ${dupChars}/${chars} = ${fmt(ratio)} ≥ ${p.char_duplicates_ratio}`];
  }
  const nWords = words().length;
  if (nWords === 0) return ["empty", "no words (datatrove divides by the word count)"];
  ratio = newlines / nWords;
  if (ratio > p.new_line_ratio) return ["list_ratio", `newlines per word ${newlines}/${nWords} = ${fmt(ratio)} > ${p.new_line_ratio}`];
  return null;
}
