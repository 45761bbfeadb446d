import { readFileSync } from "node:fs";
import { isPySpace } from "./text.js";

/**
 * A port of spaCy's rule-based tokenizer for `spacy.blank("en")`, which is what datatrove's English
 * word tokenizer runs (`SpaCyTokenizer("en")`, then `strip_strings` drops whitespace tokens). The
 * prefix, suffix, infix and URL patterns and the 1,347 special cases are spaCy 3.8.16's own, dumped
 * into spacy-en-tokenizer.json (spaCy is MIT-licensed, © ExplosionAI GmbH) and translated from
 * Python `re` to JavaScript at load.
 *
 * Known differences (documented in README "Pipelines"): spaCy's second special-case pass (the
 * PhraseMatcher that re-joins special cases split by affix rules, e.g. some emoticons inside
 * punctuation) is not ported, and `\S` follows JavaScript's whitespace set. On the sample corpus the
 * token streams agree on > 99.9 % of documents (bench/curation-datatrove-compare.py).
 */
interface SpacyData {
  version: string;
  prefix: string;
  suffix: string;
  infix: string;
  url: string;
  rules: Record<string, string[]>;
  sent_punct_chars: string[];
}

const data = JSON.parse(readFileSync(new URL("./data/spacy-en-tokenizer.json", import.meta.url), "utf8")) as SpacyData;

/** Translates a Python `re` pattern (as spaCy writes them) into a JavaScript `u`-mode pattern. */
export function pyRegexToJs(src: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === "\\") {
      const n = src[i + 1]!;
      i++;
      if (n === "U") {
        out += `\\u{${src.slice(i + 1, i + 9).replace(/^0+/, "")}}`;
        i += 8;
      } else if (n === "w") {
        // Python's \w is Unicode-aware (str.isalnum() or "_"); JavaScript's is ASCII-only.
        out += inClass ? "\\p{L}\\p{N}_" : "[\\p{L}\\p{N}_]";
      } else if (n === "d") {
        out += "\\p{Nd}";
      } else if (/[A-Za-z0-9]/.test(n) || "^$\\.*+?()[]{}|/".includes(n) || (inClass && n === "-")) {
        out += c + n;
      } else {
        // An identity escape Python allows and u-mode JavaScript rejects (e.g. \' or \").
        out += n === "-" ? "\\x2d" : n;
      }
      continue;
    }
    if (c === "[" && !inClass) {
      inClass = true;
      out += c;
      if (src[i + 1] === "^") {
        out += "^";
        i++;
      }
      if (src[i + 1] === "]") {
        out += "\\]";
        i++;
      }
      continue;
    }
    if (c === "]" && inClass) inClass = false;
    else if (c === "[" && inClass) {
      out += "\\[";
      continue;
    }
    out += c;
  }
  return out.replace(/^\(\?u\)/, "");
}

// Every prefix and URL alternative is anchored with ^: the sticky flag stops V8 from retrying the
// alternation at each later position of a chunk (measured: the suffix and prefix searches were most
// of the tokenizer's time before).
const PREFIX = new RegExp(pyRegexToJs(data.prefix), "uy");
const SUFFIX = new RegExp(pyRegexToJs(data.suffix), "u");
const INFIX_SRC = pyRegexToJs(data.infix);
const INFIX_AT = new RegExp(INFIX_SRC, "uy");
const URL_MATCH = new RegExp(pyRegexToJs(data.url), "uy");
const SPECIAL_CASES = new Map<string, string[]>(Object.entries(data.rules));
const NO_SPECIALS = new Map<string, string[]>();
export const SPACY_VERSION = data.version;

function findPrefix(s: string): number {
  PREFIX.lastIndex = 0;
  const m = PREFIX.exec(s);
  return m ? m[0].length : 0;
}

const SUFFIX_TAIL = 24;

/**
 * Suffix alternatives are anchored with $, and V8 tries the whole alternation at every position,
 * so search only the chunk's tail. A match starting at least 4 characters into the tail has all its
 * lookbehind context inside it and is the same match the full search finds; otherwise (a long run
 * of dots, a short chunk) search the whole chunk.
 */
function findSuffix(s: string): number {
  if (s.length > SUFFIX_TAIL) {
    const m = SUFFIX.exec(s.slice(s.length - SUFFIX_TAIL));
    if (m === null) return 0;
    if (m.index >= 4) return m[0].length;
  }
  const m = SUFFIX.exec(s);
  return m ? m[0].length : 0;
}

/**
 * Every infix alternative consumes a trigger character first (lookbehinds consume nothing): "." "…"
 * + - * ^ , – — ~ : < > = / or an icon (the pattern's first character class). Trying the sticky
 * pattern only at those positions, left to right from the end of the previous match, finds exactly
 * what Python's finditer finds; running the global pattern instead tried the whole alternation at
 * every position and was 90% of the tokenizer's time on cache misses (7.2 s for the corpus's 295k
 * distinct chunks).
 */
const ICON_CLASS = INFIX_SRC.slice(INFIX_SRC.indexOf("["), INFIX_SRC.indexOf("]", INFIX_SRC.indexOf("[")) + 1);
const ICON_AT = new RegExp(ICON_CLASS, "uy");
const ASCII_TRIGGERS = new Uint8Array(128);
for (const ch of ".+-*^,~:<>=/") ASCII_TRIGGERS[ch.charCodeAt(0)] = 1;

function isInfixTrigger(s: string, i: number, c: number): boolean {
  if (c < 0x80) return ASCII_TRIGGERS[c] === 1;
  if (c === 0x2026 || c === 0x2013 || c === 0x2014) return true; // … – —
  if (c >= 0xdc00 && c <= 0xdfff) return false; // second half of a pair: tested at the first half
  ICON_AT.lastIndex = i;
  return ICON_AT.test(s);
}

function findInfixes(s: string): [start: number, end: number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isInfixTrigger(s, i, c)) continue;
    INFIX_AT.lastIndex = i;
    const m = INFIX_AT.exec(s);
    if (m === null) continue;
    const end = i + m[0].length;
    out.push([i, end]);
    i = Math.max(i, end - 1);
  }
  return out;
}

function urlMatch(s: string): boolean {
  URL_MATCH.lastIndex = 0;
  return URL_MATCH.exec(s) !== null; // Python's re.match: anchored at the start (the pattern ends in $)
}

/**
 * spaCy's `_split_affixes` + `_attach_tokens` for one whitespace-free chunk. With `specials` false
 * it is `_tokenize_affixes(s, False)`, which spaCy uses to build its special-case matcher.
 */
function tokenizeChunk(chunk: string, specials = true): string[] {
  const SPECIALS = specials ? SPECIAL_CASES : NO_SPECIALS;
  const special = SPECIALS.get(chunk);
  if (special) return special;
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  let s = chunk;
  let lastSize = 0;
  while (s.length > 0 && s.length !== lastSize) {
    if (SPECIALS.has(s)) break;
    lastSize = s.length;
    const preLen = findPrefix(s);
    let prefix = "";
    let minusPre = "";
    if (preLen !== 0) {
      prefix = s.slice(0, preLen);
      minusPre = s.slice(preLen);
      if (minusPre && SPECIALS.has(minusPre)) {
        s = minusPre;
        prefixes.push(prefix);
        break;
      }
    }
    const sufLen = findSuffix(s.slice(preLen));
    let suffix = "";
    let minusSuf = "";
    if (sufLen !== 0) {
      suffix = s.slice(s.length - sufLen);
      minusSuf = s.slice(0, s.length - sufLen);
      if (minusSuf && SPECIALS.has(minusSuf)) {
        s = minusSuf;
        suffixes.push(suffix);
        break;
      }
    }
    if (preLen && sufLen && preLen + sufLen <= s.length) {
      s = s.slice(preLen, s.length - sufLen);
      prefixes.push(prefix);
      suffixes.push(suffix);
    } else if (preLen) {
      s = minusPre;
      prefixes.push(prefix);
    } else if (sufLen) {
      s = minusSuf;
      suffixes.push(suffix);
    }
    if (s && SPECIALS.has(s)) break;
  }
  const tokens = prefixes;
  if (s) {
    const sp = SPECIALS.get(s);
    if (sp) tokens.push(...sp);
    else if (urlMatch(s)) tokens.push(s);
    else {
      let start = 0;
      let any = false;
      for (const [a, b] of findInfixes(s)) {
        any = true;
        if (a === 0) continue;
        if (a !== start) tokens.push(s.slice(start, a));
        if (a !== b) tokens.push(s.slice(a, b));
        start = b;
      }
      if (!any) tokens.push(s);
      else if (start < s.length) tokens.push(s.slice(start));
    }
  }
  for (let i = suffixes.length - 1; i >= 0; i--) tokens.push(suffixes[i]!);
  return tokens;
}

/**
 * spaCy's second pass (`_apply_special_cases`): special cases that affix rules split apart (":)" in
 * "(:)", "<3", "''") are found as token sequences and re-joined. A pattern is the special case's own
 * tokenization without special cases, as spaCy builds its PhraseMatcher. spaCy matches over the
 * whole token stream, where a single space between tokens is no token but any other whitespace is:
 * a match may span a single space, and such a match is then not applied, but it still blocks
 * overlapping shorter or later matches ("a : x.Type" keeps "x" "." apart; "x x.Type" gives "x.").
 */
const MATCH_PATTERNS = new Map<string, string>(); // tokens joined by \u0000 → special-case key
const FIRST_TOKENS = new Set<string>();
let maxPatternLen = 0;
for (const key of SPECIAL_CASES.keys()) {
  if (!(findPrefix(key) > 0 || SUFFIX.test(key) || findInfixes(key).length > 0)) continue;
  const toks = tokenizeChunk(key, false);
  MATCH_PATTERNS.set(toks.join("\u0000"), key);
  FIRST_TOKENS.add(toks[0]!);
  maxPatternLen = Math.max(maxPatternLen, toks.length);
}

/**
 * gap[i]: what follows token i — 0 nothing (same chunk), 1 a single space, 2 other whitespace.
 * `starts`: the token positions that begin some pattern (from the chunk cache), ascending.
 */
function applySpecialMatches(tokens: string[], gap: Uint8Array, starts: number[]): string[] {
  let spans: [start: number, end: number, key: string][] | undefined;
  for (const i of starts) {
    let joined = "";
    for (let l = 1; l <= maxPatternLen && i + l <= tokens.length; l++) {
      if (l > 1 && gap[i + l - 2] === 2) break;
      joined = l === 1 ? tokens[i]! : `${joined}\u0000${tokens[i + l - 1]}`;
      const key = MATCH_PATTERNS.get(joined);
      if (key !== undefined) (spans ??= []).push([i, i + l, key]);
    }
  }
  if (!spans) return tokens;
  // spaCy's _filter_special_spans: longest first, then leftmost; skip spans touching a taken token.
  spans.sort((a, b) => b[1] - b[0] - (a[1] - a[0]) || a[0] - b[0]);
  const taken = new Set<number>();
  const chosen: typeof spans = [];
  for (const sp of spans) {
    if (!taken.has(sp[0]) && !taken.has(sp[1] - 1)) {
      let spaced = false;
      for (let k = sp[0]; k < sp[1] - 1; k++) if (gap[k] !== 0) spaced = true;
      if (!spaced) chosen.push(sp);
    }
    for (let k = sp[0]; k < sp[1]; k++) taken.add(k);
  }
  if (chosen.length === 0) return tokens;
  chosen.sort((a, b) => a[0] - b[0]);
  const out: string[] = [];
  let at = 0;
  for (const [start, end, key] of chosen) {
    for (let k = at; k < start; k++) out.push(tokens[k]!);
    out.push(...SPECIAL_CASES.get(key)!);
    at = end;
  }
  for (let k = at; k < tokens.length; k++) out.push(tokens[k]!);
  return out;
}

interface ChunkEntry {
  tokens: string[];
  /** indices of tokens that begin a special-case pattern, or null when none does */
  starts: number[] | null;
}

// Chunk → tokens. Web text is Zipfian, so most chunks repeat; spaCy keeps the same kind of cache.
const CACHE_MAX = 400_000;
let cache = new Map<string, ChunkEntry>();

function chunkTokens(chunk: string): ChunkEntry {
  let e = cache.get(chunk);
  if (e === undefined) {
    const tokens = isPlainWord(chunk) ? [chunk] : tokenizeChunk(chunk);
    let starts: number[] | null = null;
    for (let i = 0; i < tokens.length; i++) if (FIRST_TOKENS.has(tokens[i]!)) (starts ??= []).push(i);
    e = { tokens, starts };
    if (cache.size >= CACHE_MAX) cache = new Map();
    cache.set(chunk, e);
  }
  return e;
}

/**
 * A chunk of ASCII letters only is one token unless it is a special case ("cannot", "gonna"):
 * no prefix, suffix or infix rule can fire inside [A-Za-z]+.
 */
function isPlainWord(s: string): boolean {
  if (SPECIAL_CASES.has(s)) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (c < 0x61 || c > 0x7a) return false;
  }
  return true;
}

/**
 * datatrove's English `word_tokenize`: spaCy tokens with whitespace tokens removed. Returns the
 * token strings in order.
 */
export function wordTokenize(text: string): string[] {
  const out: string[] = [];
  const starts: number[] = [];
  let gap = new Uint8Array(256);
  let start = -1;
  let wsStart = -1;
  for (let i = 0; i <= text.length; i++) {
    const space = i === text.length || isPySpace(text.charCodeAt(i));
    if (space) {
      if (start >= 0) {
        const e = chunkTokens(text.slice(start, i));
        if (e.starts !== null) for (const k of e.starts) starts.push(out.length + k);
        const toks = e.tokens;
        for (let k = 0; k < toks.length; k++) out.push(toks[k]!);
        start = -1;
        wsStart = i;
      }
    } else if (start < 0) {
      if (wsStart >= 0 && out.length > 0) {
        if (gap.length < out.length) {
          const g = new Uint8Array(out.length * 2);
          g.set(gap);
          gap = g;
        }
        gap[out.length - 1] = i - wsStart === 1 && text.charCodeAt(wsStart) === 0x20 ? 1 : 2;
      }
      start = i;
    }
  }
  if (gap.length < out.length) {
    const g = new Uint8Array(out.length);
    g.set(gap);
    gap = g;
  }
  return starts.length === 0 ? out : applySpecialMatches(out, gap, starts);
}

/** spaCy's default sentencizer punctuation (`Sentencizer.default_punct_chars`). */
const SENT_PUNCT = new Set(data.sent_punct_chars);

const PUNCT_TOKEN = /^[\p{P}]+$/u;

/**
 * Number of sentences datatrove's `sent_tokenize` returns for a line (spaCy's sentencizer over the
 * spaCy tokens, then empty sentences dropped), counting at most `limit`. Whitespace tokens are
 * not punctuation in spaCy, so they do start sentences; but a sentence made only of whitespace is
 * dropped by `strip_strings`, so whitespace never adds one here.
 */
export function countSentences(tokens: string[], limit = Number.POSITIVE_INFINITY): number {
  if (tokens.length === 0) return 0;
  let n = 1;
  let seenPeriod = false;
  for (let i = 0; i < tokens.length && n < limit; i++) {
    const t = tokens[i]!;
    const inPunct = SENT_PUNCT.has(t);
    if (seenPeriod && !inPunct && !PUNCT_TOKEN.test(t)) {
      n++;
      seenPeriod = false;
    } else if (inPunct) seenPeriod = true;
  }
  return n;
}
