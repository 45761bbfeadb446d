import { parse as parseYaml } from "yaml";
import { ValidationError } from "./errors.js";
import { canonicalJson, sha256Hex } from "./hash.js";
import {
  MAX_PARAM_LIST,
  MAX_PARAM_STRING,
  OUTPUT_PARAMS,
  PIPELINE_FORMAT_VERSION,
  STEP_CATALOG,
  STEP_NAMES,
  type OutputConfig,
  type ParamSpec,
  type PipelineSpec,
  type StepConfig,
  type StepName,
  type StepSpec,
} from "./pipeline-steps.js";

export * from "./pipeline-steps.js";

/** Pipeline files: parsing and validation against the step catalog of pipeline-steps.ts. */
const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/;

/** Parses a pipeline file's text (YAML or JSON). */
export function parsePipelineText(text: string, origin = "pipeline"): PipelineSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ValidationError(`not valid YAML/JSON: ${(err as Error).message}`, origin);
  }
  return parsePipeline(doc);
}

/**
 * Validates a pipeline document and returns it with every default filled in. Unknown steps,
 * unknown or mistyped parameters are errors that name their path.
 */
export function parsePipeline(input: unknown): PipelineSpec {
  if (!isRecord(input)) throw new ValidationError("must be an object with version, name and steps", "pipeline");
  for (const key of Object.keys(input)) {
    if (!["version", "name", "steps", "output"].includes(key)) throw new ValidationError("unknown field", key);
  }
  if (input.version !== PIPELINE_FORMAT_VERSION) {
    throw new ValidationError(`unsupported version ${show(input.version)}; expected ${PIPELINE_FORMAT_VERSION}`, "version");
  }
  if (typeof input.name !== "string" || !NAME_RE.test(input.name)) {
    throw new ValidationError("must be 1-128 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit", "name");
  }
  if (!Array.isArray(input.steps) || input.steps.length === 0) {
    throw new ValidationError("must be a non-empty list of steps", "steps");
  }
  const steps = input.steps.map((raw, i) => parseStep(raw, `steps[${i}]`));
  const tokenizeAt = steps.flatMap((s, i) => (s.step === "tokenize" ? [i] : []));
  if (tokenizeAt.length !== 1) {
    throw new ValidationError(`must contain exactly one tokenize step (found ${tokenizeAt.length})`, "steps");
  }
  if (tokenizeAt[0] !== steps.length - 1) {
    throw new ValidationError("tokenize must be the last step: later steps would change text after it was tokenized", `steps[${tokenizeAt[0]}]`);
  }
  const output = parseParams(input.output ?? {}, OUTPUT_PARAMS, "output") as unknown as OutputConfig;
  return { version: 1, name: input.name, steps, output };
}

function parseStep(raw: unknown, path: string): StepConfig {
  if (!isRecord(raw)) throw new ValidationError("must be an object with a `step` name", path);
  const name = raw.step;
  if (typeof name !== "string") throw new ValidationError("missing `step` name", `${path}.step`);
  if (!(name in STEP_CATALOG)) {
    throw new ValidationError(`unknown step ${show(name)}; known steps: ${STEP_NAMES.join(", ")}`, `${path}.step`);
  }
  const { step: _ignored, ...params } = raw;
  const spec = STEP_CATALOG[name as StepName] as StepSpec;
  const out = parseParams(params, spec.params, path);
  for (const { lower, upper, zeroDisables } of spec.ordered ?? []) {
    const lo = out[lower] as number;
    const hi = out[upper] as number;
    if (zeroDisables && (hi === 0 || lo === 0)) continue;
    if (lo > hi) throw new ValidationError(`must be ≤ ${upper} (${hi}), got ${lo}`, `${path}.${lower}`);
  }
  return { step: name as StepName, ...out };
}

function parseParams(raw: unknown, specs: Record<string, ParamSpec>, path: string): Record<string, unknown> {
  if (!isRecord(raw)) throw new ValidationError("must be an object", path);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!(key in specs)) {
      const known = Object.keys(specs);
      throw new ValidationError(`unknown parameter${known.length ? `; known: ${known.join(", ")}` : " (this step takes none)"}`, `${path}.${key}`);
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (spec.required && (!(key in raw) || raw[key] === "")) throw new ValidationError("is required", `${path}.${key}`);
    out[key] = key in raw ? checkParam(raw[key], spec, `${path}.${key}`) : spec.default;
  }
  return out;
}

function checkParam(value: unknown, spec: ParamSpec, path: string): unknown {
  switch (spec.type) {
    case "boolean":
      if (typeof value !== "boolean") throw new ValidationError(`must be true or false, got ${show(value)}`, path);
      return value;
    case "string":
      if (typeof value !== "string") throw new ValidationError(`must be a string, got ${show(value)}`, path);
      if (value.length > MAX_PARAM_STRING) throw new ValidationError(`must be at most ${MAX_PARAM_STRING} characters`, path);
      if (spec.enum && !spec.enum.includes(value)) {
        throw new ValidationError(`must be one of ${spec.enum.join(", ")}, got ${show(value)}`, path);
      }
      return value;
    case "integer":
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new ValidationError(`must be a finite number, got ${show(value)}`, path);
      }
      if (spec.type === "integer" && !Number.isSafeInteger(value)) throw new ValidationError(`must be an integer, got ${value}`, path);
      if (spec.min !== undefined && value < spec.min) throw new ValidationError(`must be ≥ ${spec.min}, got ${value}`, path);
      if (spec.max !== undefined && value > spec.max) throw new ValidationError(`must be ≤ ${spec.max}, got ${value}`, path);
      if (spec.oneOf && !spec.oneOf.includes(value)) throw new ValidationError(`must be ${spec.oneOf.join(" or ")}, got ${value}`, path);
      return value;
    }
    case "string_list": {
      // A list of strings (e.g. eval set names); each item is checked against `enum` when there is one.
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
        throw new ValidationError(`must be a list of strings, got ${show(value)}`, path);
      }
      if (value.length > MAX_PARAM_LIST) throw new ValidationError(`must list at most ${MAX_PARAM_LIST} items`, path);
      const long = value.findIndex((v) => (v as string).length > MAX_PARAM_STRING);
      if (long >= 0) throw new ValidationError(`must be at most ${MAX_PARAM_STRING} characters`, `${path}[${long}]`);
      const bad = spec.enum ? value.findIndex((v) => !spec.enum!.includes(v as string)) : -1;
      if (bad >= 0) {
        const known = spec.enum!.length > 20 ? `${spec.enum!.length} known labels, e.g. ${spec.enum!.slice(0, 5).join(", ")}` : spec.enum!.join(", ");
        throw new ValidationError(`unknown item ${show(value[bad])}; must be among ${known}`, `${path}[${bad}]`);
      }
      if (spec.min !== undefined && value.length < spec.min) throw new ValidationError(`must list at least ${spec.min} item(s)`, path);
      return [...value];
    }
  }
}

/** Content hash of a validated pipeline (defaults filled in), part of a dataset fingerprint. */
export function pipelineHash(spec: PipelineSpec): string {
  return sha256Hex(canonicalJson(spec));
}

/** A value as an error message shows it: JSON, cut to a short prefix (messages never echo big inputs). */
function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The pipeline used when none is given: normalize → length → tokenize. */
export const DEFAULT_PIPELINE: PipelineSpec = parsePipeline({
  version: 1,
  name: "default",
  steps: [{ step: "normalize" }, { step: "length" }, { step: "tokenize", tokenizer: "llama3" }],
});
