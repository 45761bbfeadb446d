import { readFileSync } from "node:fs";
import type { Verdict } from "./gopher.js";
import { countSentences, wordTokenize } from "./spacy-tokenizer.js";
import { cpLen, pySplit, pyStrip, splitLines } from "./text.js";

export interface C4Params {
  remove_citations: boolean;
  filter_no_terminal_punct: boolean;
  min_num_sentences: number;
  min_words_per_line: number;
  max_word_length: number;
  filter_lorem_ipsum: boolean;
  filter_javascript: boolean;
  filter_curly_bracket: boolean;
  filter_policy: boolean;
  filter_bad_words: boolean;
}

export interface C4Result {
  verdict: Verdict;
  /** The rewritten text (kept lines joined by "\n", stripped) when the document is kept. */
  text: string;
  /** Lines removed, by line rule (for the step's counters). */
  linesDropped: Record<string, number>;
}

const CITATION = /\[\d*]|\[edit]|\[citation needed]/g;
const END_PUNCTUATION = [".", "?", "!", '"', "'"];
const POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"];

/**
 * datatrove C4QualityFilter.filter with split_paragraph=True (the C4 default), rule for rule. Like
 * datatrove it rewrites the text: only the kept lines remain, stripped and joined with "\n".
 */
export function c4Quality(text: string, p: C4Params): C4Result {
  const linesDropped: Record<string, number> = {};
  const dropLine = (rule: string) => {
    linesDropped[rule] = (linesDropped[rule] ?? 0) + 1;
  };
  if (p.filter_bad_words) {
    const m = BAD_WORDS().exec(text.toLowerCase());
    if (m) return { verdict: ["bad_words", `contains "${m[1]}" (LDNOOBW en list)`], text, linesDropped };
  }
  let sentences = 0;
  const kept: string[] = [];
  for (const raw of splitLines(text)) {
    let line = pyStrip(raw);
    const words = pySplit(line);
    if (p.max_word_length !== -1 && words.some((w) => w.length > p.max_word_length && cpLen(w) > p.max_word_length)) {
      dropLine("too_long_word");
      continue;
    }
    if (p.remove_citations && line.includes("[")) line = line.replace(CITATION, "");
    if (p.filter_no_terminal_punct && (!END_PUNCTUATION.some((e) => line.endsWith(e)) || line.endsWith("..."))) {
      dropLine("no_terminal_punct");
      continue;
    }
    // datatrove compares with min_words_per_line even when it is -1, which then never fires.
    if (words.length < p.min_words_per_line) {
      dropLine("too_few_words");
      continue;
    }
    const lower = line.toLowerCase();
    if (p.filter_lorem_ipsum && lower.includes("lorem ipsum")) return { verdict: ["lorem_ipsum", `line contains "lorem ipsum": ${head(line)}`], text, linesDropped };
    if (p.filter_javascript && lower.includes("javascript")) {
      dropLine("javascript");
      continue;
    }
    if (p.filter_curly_bracket && line.includes("{")) return { verdict: ["curly_bracket", `line contains "{": ${head(line)}`], text, linesDropped };
    if (p.filter_policy && POLICY.some((s) => lower.includes(s))) {
      dropLine("policy");
      continue;
    }
    // Only whether the count reaches min_num_sentences matters, so stop tokenizing once it does.
    if (sentences < p.min_num_sentences) sentences += countSentences(wordTokenize(line), p.min_num_sentences - sentences);
    kept.push(line);
  }
  if (sentences < p.min_num_sentences) {
    return { verdict: ["too_few_sentences", `${sentences} sentences in kept lines < ${p.min_num_sentences}`], text, linesDropped };
  }
  return { verdict: null, text: pyStrip(kept.join("\n")), linesDropped };
}

function head(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

let badWords: RegExp | undefined;

/**
 * datatrove's C4BadWordsFilter pattern for English: `(?:\W|^)(w1|w2|…)(?:\W|$)` over the lowercased
 * text, with the LDNOOBW list at the commit datatrove pins (data/ldnoobw-en.txt, CC-BY-4.0).
 */
function BAD_WORDS(): RegExp {
  if (!badWords) {
    const words = readFileSync(new URL("./data/ldnoobw-en.txt", import.meta.url), "utf8")
      .split("\n")
      .map((w) => w.trim())
      .filter((w) => w.length > 0);
    const esc = words.map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
    badWords = new RegExp(`(?:[^\\p{L}\\p{N}_]|^)(${esc.join("|")})(?:[^\\p{L}\\p{N}_]|$)`, "u");
  }
  return badWords;
}
