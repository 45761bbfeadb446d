import type { StepConfig } from "@tokenmill/domain";
import { filterBatch, type Step } from "./step.js";

/** Drops documents outside the code-point and word bounds (`length:too_short|too_long|too_few_words`). */
export function createLengthStep(config: StepConfig): Step {
  const minChars = config.min_chars as number;
  const maxChars = config.max_chars as number;
  const minWords = config.min_words as number;
  return {
    name: "length",
    async processBatch(docs) {
      return filterBatch("length", docs, (doc) => {
        // Stop counting just past max_chars: a 50 MB document needs no exact count to be too long.
        const chars = countCodePoints(doc.text, maxChars + 1);
        if (chars < minChars) return ["too_short", `${chars} code points < min_chars ${minChars}`];
        if (chars > maxChars) return ["too_long", `more than max_chars ${maxChars} code points`];
        if (minWords > 0) {
          const words = countWords(doc.text, minWords);
          if (words < minWords) return ["too_few_words", `${words} words < min_words ${minWords}`];
        }
        return null;
      });
    },
  };
}

/** Unicode code points (a surrogate pair counts once), counting at most `limit`. */
export function countCodePoints(text: string, limit = Number.POSITIVE_INFINITY): number {
  let n = 0;
  for (let i = 0; i < text.length && n < limit; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Whitespace-separated words, counting at most `limit`. Whitespace is exactly what Python's
 * `str.split()` splits on, so counts match the Python filters this step is compared with.
 */
export function countWords(text: string, limit = Number.POSITIVE_INFINITY): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length && n < limit; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return c === 0x85 || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}
