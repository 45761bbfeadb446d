import type { StepConfig } from "@tokenmill/domain";
import { loadTokenizer } from "../tokenizer.js";
import type { Doc, Drop } from "../types.js";
import { dropOf, type Step } from "./step.js";

/** Tokenizes each kept document; fewer than `min_tokens` tokens → `tokenize:too_few_tokens`. */
export async function createTokenizeStep(config: StepConfig): Promise<Step> {
  const tokenizer = await loadTokenizer(config.tokenizer as string);
  const minTokens = config.min_tokens as number;
  return {
    name: "tokenize",
    async processBatch(docs) {
      const ids = await tokenizer.encodeBatch(docs.map((d) => d.text));
      const kept: Doc[] = [];
      const dropped: Drop[] = [];
      docs.forEach((doc, i) => {
        const tokens = ids[i]!;
        if (tokens.length < minTokens) {
          dropped.push(dropOf(doc, "tokenize:too_few_tokens", `${tokens.length} tokens < min_tokens ${minTokens}`));
        } else {
          doc.tokens = tokens;
          kept.push(doc);
        }
      });
      return { kept, dropped };
    },
  };
}
