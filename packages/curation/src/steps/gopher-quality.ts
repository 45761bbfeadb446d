import type { StepConfig } from "@tokenmill/domain";
import { docWords } from "../filters/doc-words.js";
import { gopherQuality, type GopherQualityParams } from "../filters/gopher.js";
import { filterBatch, type Step } from "./step.js";

/** datatrove's GopherQualityFilter (`gopher_quality:<rule>`), as of the release named by `definition`. */
export function createGopherQualityStep(config: StepConfig): Step {
  const c = config as unknown as Record<string, number>;
  const p: GopherQualityParams = {
    min_doc_words: c.min_doc_words!,
    max_doc_words: c.max_doc_words!,
    min_avg_word_length: c.min_avg_word_length!,
    max_avg_word_length: c.max_avg_word_length!,
    max_symbol_word_ratio: c.max_symbol_word_ratio!,
    max_bullet_lines_ratio: c.max_bullet_lines_ratio!,
    max_ellipsis_lines_ratio: c.max_ellipsis_lines_ratio!,
    max_non_alpha_words_ratio: c.max_non_alpha_words_ratio!,
    min_stop_words: c.min_stop_words!,
    stop_words: new Set(config.stop_words as string[]),
    definition: config.definition === "fineweb-2024" ? "fineweb-2024" : "datatrove-0.10",
  };
  return {
    name: "gopher_quality",
    async processBatch(docs) {
      return filterBatch("gopher_quality", docs, (doc) => gopherQuality(doc.text, docWords(doc), p));
    },
  };
}
