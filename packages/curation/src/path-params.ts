import { type PipelineSpec, ValidationError } from "@tokenmill/domain";
import { fileUriToPath, guardPath, type SourcePolicy } from "@tokenmill/storage";
import { isClassifierPath } from "./classifier/store.js";

/**
 * Pipeline parameters that name files on the curator's disk — quality_classifier.model given as a
 * path and decontaminate.eval_dir — are held to the same roots as file:// sources. In the service
 * (no roots by default) a classifier is named `name@version` and eval sets come from the bundled
 * folder; a path is refused without saying whether it exists. Checked when a pipeline is defined
 * and again when a run is planned (the roots may have changed in between). Local mode, which runs
 * as the user, does not call this.
 */
export async function guardPipelinePaths(spec: PipelineSpec, policy: SourcePolicy): Promise<void> {
  for (const [i, step] of spec.steps.entries()) {
    if (step.step === "quality_classifier" && typeof step.model === "string" && isClassifierPath(step.model)) {
      await check(step.model, policy, `steps[${i}].model`, "a classifier path");
    }
    if (step.step === "decontaminate" && typeof step.eval_dir === "string" && step.eval_dir !== "") {
      await check(step.eval_dir, policy, `steps[${i}].eval_dir`, "an eval folder");
    }
  }
}

async function check(value: string, policy: SourcePolicy, field: string, what: string): Promise<void> {
  let path: string;
  try {
    path = value.startsWith("file://") ? fileUriToPath(value) : value;
  } catch {
    path = "";
  }
  try {
    await guardPath(path, policy, what);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(
      `${what} is only accepted under a configured root (FILE_SOURCE_ROOTS)${field.endsWith("model") ? "; name a registered classifier as name@version or name" : "; leave it empty for the bundled eval sets"}`,
      field,
    );
  }
}
