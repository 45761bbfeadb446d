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

/**
 * datatrove's `TERMINAL_PUNCTUATION` (utils/text.py, release 0.10): sentence-final marks of many
 * scripts (159 code points). Written as escapes because most are rare and some are unassigned in
 * older Unicode versions; kept sorted by code point.
 */
export const TERMINAL_PUNCTUATION: ReadonlySet<string> = new Set(
  Array.from(
    "!.?\u{589}\u{61d}\u{61e}\u{61f}\u{6d4}\u{700}\u{701}\u{702}\u{7f9}\u{837}\u{839}\u{83d}\u{83e}\u{964}\u{965}" +
      "\u{104a}\u{104b}\u{1362}\u{1367}\u{1368}\u{166e}\u{1735}\u{1736}\u{17d4}\u{17d5}\u{17d6}\u{17d9}\u{17da}" +
      "\u{1803}\u{1809}\u{1944}\u{1945}\u{1aa8}\u{1aa9}\u{1aaa}\u{1aab}\u{1b5a}\u{1b5b}\u{1b5e}\u{1b5f}\u{1b7d}" +
      "\u{1b7e}\u{1c3b}\u{1c3c}\u{1c7e}\u{1c7f}\u{203c}\u{203d}\u{2047}\u{2048}\u{2049}\u{2e2e}\u{2e3c}\u{2e53}" +
      "\u{2e54}\u{3002}\u{a4ff}\u{a60e}\u{a60f}\u{a6f3}\u{a6f7}\u{a876}\u{a877}\u{a8ce}\u{a8cf}\u{a92f}\u{a9c8}" +
      "\u{a9c9}\u{aa5d}\u{aa5e}\u{aa5f}\u{aaf0}\u{aaf1}\u{abeb}\u{fe52}\u{fe56}\u{fe57}\u{ff01}\u{ff0e}\u{ff1f}" +
      "\u{ff61}\u{10a56}\u{10a57}\u{10f55}\u{10f56}\u{10f57}\u{10f58}\u{10f59}\u{10f86}\u{10f87}\u{10f88}\u{10f89}" +
      "\u{11047}\u{11048}\u{110be}\u{110bf}\u{110c0}\u{110c1}\u{11141}\u{11142}\u{11143}\u{111c5}\u{111c6}\u{111cd}" +
      "\u{111de}\u{111df}\u{11238}\u{11239}\u{1123b}\u{1123c}\u{112a9}\u{1144b}\u{1144c}\u{115c2}\u{115c3}\u{115c9}" +
      "\u{115ca}\u{115cb}\u{115cc}\u{115cd}\u{115ce}\u{115cf}\u{115d0}\u{115d1}\u{115d2}\u{115d3}\u{115d4}\u{115d5}" +
      "\u{115d6}\u{115d7}\u{11641}\u{11642}\u{1173c}\u{1173d}\u{1173e}\u{11944}\u{11946}\u{11a42}\u{11a43}\u{11a9b}" +
      "\u{11a9c}\u{11c41}\u{11c42}\u{11ef7}\u{11ef8}\u{11f43}\u{11f44}\u{16a6e}\u{16a6f}\u{16af5}\u{16b37}\u{16b38}" +
      "\u{16b44}\u{16e98}\u{1bc9f}\u{1da88}",
  ),
);

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
