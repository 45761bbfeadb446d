import type { PipelineSpec, StepName } from "@tokenmill/domain";
import { createDedupStep } from "../dedup/step.js";
import { createC4QualityStep } from "./c4-quality.js";
import { createDecontaminateStep } from "./decontaminate.js";
import { createFineWebQualityStep } from "./fineweb-quality.js";
import { createGopherQualityStep } from "./gopher-quality.js";
import { createGopherRepetitionStep } from "./gopher-repetition.js";
import { createLanguageIdStep } from "./language-id.js";
import { createLengthStep } from "./length.js";
import { createNormalizeStep } from "./normalize.js";
import { createPiiStep } from "./pii.js";
import { createQualityClassifierStep } from "./quality-classifier.js";
import type { Step, StepContext, StepFactory } from "./step.js";
import { createTokenizeStep } from "./tokenize.js";

/**
 * Step name → factory. Every name in STEP_CATALOG must have an entry (checked by the type), so a
 * step added to the catalog without an implementation fails to compile.
 */
export const STEP_REGISTRY: Record<StepName, StepFactory> = {
  normalize: createNormalizeStep,
  length: createLengthStep,
  language_id: createLanguageIdStep,
  gopher_repetition: createGopherRepetitionStep,
  gopher_quality: createGopherQualityStep,
  c4_quality: createC4QualityStep,
  fineweb_quality: createFineWebQualityStep,
  pii: createPiiStep,
  decontaminate: createDecontaminateStep,
  quality_classifier: createQualityClassifierStep,
  tokenize: createTokenizeStep,
  exact_dedup: createDedupStep,
  minhash_dedup: createDedupStep,
};

/** Instantiates a validated pipeline's steps in order; `context.store` is where classifiers are loaded from. */
export async function createSteps(spec: PipelineSpec, context: StepContext = {}): Promise<Step[]> {
  const steps: Step[] = [];
  for (const config of spec.steps) steps.push(await STEP_REGISTRY[config.step](config, context));
  return steps;
}
