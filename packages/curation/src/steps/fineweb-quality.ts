import type { StepConfig } from "@tokenmill/domain";
import { docWords } from "../filters/doc-words.js";
import { fineWebQuality, type FineWebParams } from "../filters/fineweb.js";
import { filterBatch, type Step } from "./step.js";

/** datatrove's FineWebQualityFilter (`fineweb_quality:<rule>`), as of the release named by `definition`. */
export function createFineWebQualityStep(config: StepConfig): Step {
  const p = config as unknown as FineWebParams;
  return {
    name: "fineweb_quality",
    async processBatch(docs) {
      return filterBatch("fineweb_quality", docs, (doc) => fineWebQuality(doc.text, () => docWords(doc), p));
    },
  };
}
