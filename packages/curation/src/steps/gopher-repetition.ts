import type { StepConfig } from "@tokenmill/domain";
import { docWords } from "../filters/doc-words.js";
import { gopherRepetition, type GopherRepetitionParams } from "../filters/gopher.js";
import { filterBatch, type Step } from "./step.js";

/** datatrove's GopherRepetitionFilter (`gopher_repetition:<rule>`, rule names as datatrove's). */
export function createGopherRepetitionStep(config: StepConfig): Step {
  const c = config as unknown as Record<string, number>;
  const p: GopherRepetitionParams = {
    dup_line_frac: c.dup_line_frac!,
    dup_para_frac: c.dup_para_frac!,
    dup_line_char_frac: c.dup_line_char_frac!,
    dup_para_char_frac: c.dup_para_char_frac!,
    top_n_grams: [2, 3, 4].map((n) => [n, c[`top_${n}_gram_frac`]!]),
    dup_n_grams: [5, 6, 7, 8, 9, 10].map((n) => [n, c[`dup_${n}_gram_frac`]!]),
  };
  return {
    name: "gopher_repetition",
    async processBatch(docs) {
      return filterBatch("gopher_repetition", docs, (doc) => gopherRepetition(doc.text, () => docWords(doc), p));
    },
  };
}
