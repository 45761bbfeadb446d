import { ValidationError, type StepConfig } from "@tokenmill/domain";
import { loadClassifier } from "../classifier/model.js";
import { loadClassifierBytes } from "../classifier/store.js";
import { fmt } from "../filters/gopher.js";
import { filterBatch, type Step, type StepContext } from "./step.js";

/**
 * Model-based quality filter (DCLM's fastText approach): the positive-label probability of a trained
 * classifier goes into `doc.fields[field]` (and a float32 shard column of that name); documents
 * scoring below `threshold` are dropped as `quality_classifier:below_threshold`.
 */
export async function createQualityClassifierStep(config: StepConfig, context: StepContext): Promise<Step> {
  const ref = config.model as string;
  const threshold = config.threshold as number;
  const field = config.field as string;
  if (!ref) throw new ValidationError("a classifier is required: name@version, name, or (local mode) a path to model.bin", "quality_classifier.model");
  if (!field || ["doc_id", "tokens", "num_tokens", "text", "meta"].includes(field)) {
    throw new ValidationError(`must be a non-empty name other than the shard columns doc_id, tokens, num_tokens, text, meta; got ${JSON.stringify(field)}`, "quality_classifier.field");
  }
  const { bytes, ref: resolved } = await loadClassifierBytes(ref, context.store);
  const model = await loadClassifier(bytes);
  return {
    name: "quality_classifier",
    async processBatch(docs) {
      return filterBatch("quality_classifier", docs, (doc) => {
        // Rounded through float32 so meta.fields and the float32 column hold the same value.
        const score = Math.fround(model.score(doc.text));
        doc.fields[field] = score;
        return score >= threshold ? null : ["below_threshold", `${field} ${fmt(score)} < ${threshold} (${resolved})`];
      });
    },
  };
}
