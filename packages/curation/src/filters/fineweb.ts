import { findDuplicates, fmt, type Verdict } from "./gopher.js";
import { countOf, cpLen, pyStrip, TERMINAL_PUNCTUATION } from "./text.js";

/**
 * Which datatrove FineWebQualityFilter to reproduce:
 * - `datatrove-0.10`: the current release (code unchanged since FineWeb-2, December 2024). Blank
 *   lines are dropped before every ratio, a line "ends in punctuation" if its last character is in
 *   TERMINAL_PUNCTUATION, and a document is dropped only strictly below/above a threshold.
 * - `fineweb-2024`: the code FineWeb itself was filtered with (June 2024): blank lines count, stop
 *   characters are `. ' " ! ?`, and the thresholds themselves drop (`≤`/`≥`).
 */
export type FineWebDefinition = "datatrove-0.10" | "fineweb-2024";

export interface FineWebParams {
  definition: FineWebDefinition;
  line_punct_thr: number;
  line_punct_exclude_zero: boolean;
  short_line_thr: number;
  short_line_length: number;
  char_duplicates_ratio: number;
  new_line_ratio: number;
}

const STOP_CHARS_2024 = new Set([".", "'", '"', "!", "?"]);

/** The last code point of `s` (a surrogate pair counts as one, as Python's `str.endswith` sees it). */
function lastChar(s: string): string {
  const n = s.length;
  if (n >= 2) {
    const hi = s.charCodeAt(n - 2);
    const lo = s.charCodeAt(n - 1);
    if (hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) return s.slice(n - 2);
  }
  return s.slice(n - 1);
}

/** datatrove FineWebQualityFilter.filter, rule for rule, in the chosen definition. Lines are `text.split("\n")`. */
export function fineWebQuality(text: string, words: () => string[], p: FineWebParams): Verdict {
  const strict = p.definition !== "fineweb-2024";
  const stops = strict ? TERMINAL_PUNCTUATION : STOP_CHARS_2024;
  // Python's `a < t` / `a > t` (current) or `a <= t` / `a >= t` (2024): the threshold itself drops only in 2024.
  const below = (r: number, t: number) => (strict ? r < t : r <= t);
  const above = (r: number, t: number) => (strict ? r > t : r >= t);
  const le = strict ? "<" : "≤";
  const ge = strict ? ">" : "≥";

  const all = text.split("\n");
  const nonEmpty = all.filter((l) => pyStrip(l) !== "");
  const lines = strict ? nonEmpty : all;
  // Only the current definition can see no line at all; 2024's split always yields one.
  if (lines.length === 0) return ["empty", "no non-blank line"];
  let punct = 0;
  let short = 0;
  for (const l of lines) {
    if (l !== "" && stops.has(lastChar(l))) punct++;
    if (cpLen(l) <= p.short_line_length) short++;
  }
  let ratio = punct / lines.length;
  if (below(ratio, p.line_punct_thr) && !(ratio === 0 && p.line_punct_exclude_zero)) {
    return ["line_punct_ratio", `lines ending in punctuation ${punct}/${lines.length} = ${fmt(ratio)} ${le} ${p.line_punct_thr}`];
  }
  ratio = short / lines.length;
  if (above(ratio, p.short_line_thr)) {
    return ["short_line_ratio", `lines of ≤ ${p.short_line_length} chars ${short}/${lines.length} = ${fmt(ratio)} ${ge} ${p.short_line_thr}`];
  }
  const newlines = countOf(text, "\n");
  const chars = cpLen(text) - newlines;
  if (chars === 0) return ["empty", "only newlines (datatrove divides by the non-newline length)"];
  const dupChars = findDuplicates(nonEmpty)[1];
  ratio = dupChars / chars;
  if (above(ratio, p.char_duplicates_ratio)) {
    return ["char_dup_ratio", `chars in duplicated lines ${dupChars}/${chars} = ${fmt(ratio)} ${ge} ${p.char_duplicates_ratio}`];
  }
  const nWords = words().length;
  if (nWords === 0) return ["empty", "no words (datatrove divides by the word count)"];
  ratio = newlines / nWords;
  if (ratio > p.new_line_ratio) return ["list_ratio", `newlines per word ${newlines}/${nWords} = ${fmt(ratio)} > ${p.new_line_ratio}`];
  return null;
}
