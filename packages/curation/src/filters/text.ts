/**
 * Python string semantics the datatrove filters rely on, so ratios computed here equal theirs:
 * lengths in code points (`len(str)`), `str.isspace()`, `str.splitlines()`, `str.strip()`.
 */

/** Python's `str.isspace()` for one UTF-16 unit (every Python whitespace character is in the BMP). */
export function isPySpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** Python `len()`: code points, so a surrogate pair counts once. */
export function cpLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** Python's line boundaries for `str.splitlines()`. */
function isLineBreak(c: number): boolean {
  return c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c || (c >= 0x1c && c <= 0x1e) || c === 0x85 || c === 0x2028 || c === 0x2029;
}

/** Python's `str.splitlines()` (no trailing empty line; `\r\n` is one break). */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isLineBreak(c)) {
      lines.push(text.slice(start, i));
      i += c === 0x0d && text.charCodeAt(i + 1) === 0x0a ? 2 : 1;
      start = i;
    } else i++;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** Python's `str.strip()` (whitespace as `str.isspace()`). */
export function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isPySpace(s.charCodeAt(a))) a++;
  while (b > a && isPySpace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

export function pyLstrip(s: string): string {
  let a = 0;
  while (a < s.length && isPySpace(s.charCodeAt(a))) a++;
  return a === 0 ? s : s.slice(a);
}

export function pyRstrip(s: string): string {
  let b = s.length;
  while (b > 0 && isPySpace(s.charCodeAt(b - 1))) b--;
  return b === s.length ? s : s.slice(0, b);
}

/** Python's `str.split()` with no argument: whitespace-separated, empty strings dropped. */
export function pySplit(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const space = i === s.length || isPySpace(s.charCodeAt(i));
    if (space) {
      if (start >= 0) out.push(s.slice(start, i));
      start = -1;
    } else if (start < 0) start = i;
  }
  return out;
}

/** Occurrences of `needle` in `hay`, non-overlapping (Python `str.count`). */
export function countOf(hay: string, needle: string): number {
  let n = 0;
  let i = hay.indexOf(needle);
  while (i !== -1) {
    n++;
    i = hay.indexOf(needle, i + needle.length);
  }
  return n;
}

/** datatrove's `PUNCTUATION` (utils/text.py): ASCII/CJK punctuation plus C0/C1 control characters. */
const PUNCTUATION =
  "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»" +
  [
    [0, 9],
    [11, 13],
    [13, 32],
    [127, 160],
  ]
    .flatMap(([a, b]) => Array.from({ length: b! - a! }, (_, k) => String.fromCharCode(a! + k)))
    .join("");

export const PUNCTUATION_SET: ReadonlySet<string> = new Set(Array.from(PUNCTUATION));

/** datatrove's "non-symbol word": any code point outside PUNCTUATION_SET. */
export function hasNonPunct(w: string): boolean {
  for (const ch of w) if (!PUNCTUATION_SET.has(ch)) return true;
  return false;
}

const ALPHA = /\p{L}/u;

/** Python `any(c.isalpha() for c in w)`: isalpha is Unicode category L*. */
export function hasAlpha(w: string): boolean {
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i);
    if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return true;
    if (c >= 0x80) return ALPHA.test(w.slice(i));
  }
  return false;
}
