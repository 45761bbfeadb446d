import type { Tokenizer } from "tokenizers";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReference } from "./hf-reference.js";
import { preTokenize } from "./pre-tokenize.js";
import { LETTER, NUMBER, SPACE } from "./unicode-classes.js";

let hf: Tokenizer;
beforeAll(async () => {
  ({ hf } = await loadReference());
});

/** Pre-token ends in code points, as tokenizers reports its offsets. */
function ends(text: string): number[] {
  let n = 0;
  return preTokenize(text).map((p) => (n += [...p].length));
}

function referenceEnds(text: string): number[] {
  return hf.getPreTokenizer()!.preTokenizeString(text).map(([, [, end]]) => end);
}

describe("Llama-3 pre-tokenizer", () => {
  it("classifies code points as tokenizers does", { timeout: 120_000 }, () => {
    // Per code point c: "xc" (a letter?), "cccc" (a number: "ccc" + "c"?), "1cc1" (white space?);
    // in the BMP (where all case-folding partners of ASCII letters are) also the contractions:
    // "'c" + "e" / "l" / "x" and "'r" / "'v" / "'l" + c. \u0001 separates the probes.
    const probes = (cp: number) => {
      const c = String.fromCodePoint(cp);
      const classes = `x${c}\u0001${c}${c}${c}${c}\u00011${c}${c}1\u0001`;
      return cp > 0xffff ? classes : `${classes}'${c}e'${c}l'${c}x'r${c}'v${c}'l${c} ${c}\r\n`;
    };
    // Every code point of planes 0 and 1; beyond them (CJK extensions, tags, private use,
    // unassigned) every 61st and both sides of each class boundary, as the binding is slow to ask.
    const points = new Set<number>();
    for (let cp = 0; cp < 0x20000; cp++) points.add(cp);
    for (let cp = 0x20000; cp < 0x110000; cp += 61) points.add(cp);
    for (const ranges of [LETTER, NUMBER, SPACE]) for (const cp of ranges) for (const p of [cp - 1, cp, cp + 1]) points.add(p);
    const sorted = [...points].filter((cp) => cp >= 0 && cp < 0x110000 && (cp < 0xd800 || cp > 0xdfff)).sort((a, b) => a - b);
    const mismatches: string[] = [];
    for (let i = 0; i < sorted.length; i += 4096) {
      const text = sorted.slice(i, i + 4096).map(probes).join("");
      if (JSON.stringify(ends(text)) !== JSON.stringify(referenceEnds(text))) mismatches.push(sorted[i]!.toString(16));
    }
    expect(mismatches).toEqual([]);
  });

  it("splits random mixes of the regex's corner cases as tokenizers does", () => {
    const alphabet = [..."'sStTrReEvVmMlLdDſK x", " ", " ", "  ", "\t", "\r", "\n", "\r\n", "\u000b", "\u0085", "\u00a0", "\u2028", "\u3000", "\ufeff", ..."0123", "١٢", "Ⅻ", ..."!.-_", "é", "e\u0301", "中", "😀", "𝒳", "\u{10940}"];
    let seed = 42;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const failures: string[] = [];
    for (let i = 0; i < 3000; i++) {
      let text = "";
      const length = Math.floor(random() * 24);
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
      if (JSON.stringify(ends(text)) !== JSON.stringify(referenceEnds(text))) failures.push(JSON.stringify(text));
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it("keeps the regex's splits of white space and contractions", () => {
    expect(preTokenize("Hello  world\n\n  x")).toEqual(["Hello", " ", " world", "\n\n", " ", " x"]);
    expect(preTokenize("DON'T it'S we'RE 1234567")).toEqual(["DON", "'T", " it", "'S", " we", "'RE", " ", "123", "456", "7"]);
    expect(preTokenize("a  \r\n\t b ")).toEqual(["a", "  \r\n", "\t", " b", " "]);
    expect(preTokenize("")).toEqual([]);
  });
});
