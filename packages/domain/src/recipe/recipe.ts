import { parse as parseYaml } from "yaml";
import { ValidationError } from "../errors.js";
import { canonicalJson, sha256Hex } from "../hash.js";
import { parsePipeline, type PipelineSpec } from "../pipeline.js";
import { budgetRows, planMixture, type BudgetRow, type DatasetInfo, type MixturePlan, type MixtureSpec } from "../mixture/plan.js";
import { check, RECIPE_SHAPE } from "./schema.js";
import { validateModel, type ModelConfig } from "./model.js";

/**
 * Recipe files (`recipes/*.yaml`, DESIGN.md "User-facing file formats"): sources with identities
 * and declared sizes, curation pipelines, one mixture per stage (a stage = phases sharing seq_len),
 * the model, per-phase training hyperparameters, seed and tool versions. Versioned by
 * `recipe_version`; unknown keys are errors naming their path.
 */
export const RECIPE_VERSION = 1;

export interface RecipeSource {
  name: string;
  title?: string;
  domain: "web" | "code" | "math" | "knowledge" | "reasoning" | "science" | "mixed";
  uri?: string;
  hf_id?: string;
  subset?: string | null;
  members?: { name: string; hf_id?: string; subset?: string; location?: string }[];
  identity: { revision?: string | null; sha256?: Record<string, string>; dataset_fingerprint?: string };
  declared: { tokens: number | null; rows: number | null };
  pipeline: string;
  /** Bundled sample (data/samples/…) standing in for this source in a scaled-down run. */
  sample?: string;
}

export interface RecipeMix {
  source: string;
  weight?: number;
  repeat?: number;
  tokens?: number;
  max_epochs?: number;
}

export interface TrainingConfig {
  per_gpu_batch: number;
  gpus: number;
  steps: number;
  peak_lr: number;
  warmup_steps?: number;
  decay: "linear" | "cosine" | "constant";
  final_lr_ratio: number;
  optimizer: { name: "adamw" | "adam"; beta1?: number; beta2?: number; eps?: number; weight_decay?: number };
  precision: "bf16" | "fp32" | "fp16";
  grad_clip?: number;
  distillation?: { teacher: string; loss?: string };
}

export interface RecipePhase {
  name: string;
  init?: string;
  tokens?: number;
  mix: RecipeMix[];
  schedule?: { start_tokens: number; weights: Record<string, number> }[];
  training: TrainingConfig;
}

export interface RecipeStage {
  name: string;
  seq_len: number;
  block_size?: number;
  phases: RecipePhase[];
}

export interface Recipe {
  recipe_version: number;
  name: string;
  description?: string;
  seed: number;
  tokenizer: "llama3";
  tools: Record<string, string>;
  sources: RecipeSource[];
  pipelines: PipelineSpec[];
  model: ModelConfig;
  stages: RecipeStage[];
}

export function parseRecipeText(text: string, origin = "recipe"): Recipe {
  let doc: unknown;
  try {
    doc = parseYaml(text, { merge: true }); // YAML 1.1 merge keys (`<<: *train`) share settings between phases
  } catch (err) {
    throw new ValidationError(`not valid YAML: ${(err as Error).message}`, origin);
  }
  return parseRecipe(doc);
}

/** Validates a recipe document: shape, cross-references, model shapes and every stage's mixture. */
export function parseRecipe(doc: unknown): Recipe {
  if (doc && typeof doc === "object" && "recipe_version" in doc && (doc as { recipe_version: unknown }).recipe_version !== RECIPE_VERSION) {
    throw new ValidationError(`unsupported version ${JSON.stringify((doc as { recipe_version: unknown }).recipe_version)}; this tokenmill reads ${RECIPE_VERSION}`, "recipe_version");
  }
  check(RECIPE_SHAPE, doc, "");
  const r = doc as Recipe;
  const pipelines = r.pipelines.map((p, i) => {
    try {
      return parsePipeline(p);
    } catch (err) {
      if (err instanceof ValidationError) throw new ValidationError(err.message, `pipelines[${i}]`);
      throw err;
    }
  });
  const pipelineNames = new Set<string>();
  pipelines.forEach((p, i) => {
    if (pipelineNames.has(p.name)) throw new ValidationError(`duplicate pipeline ${p.name}`, `pipelines[${i}].name`);
    pipelineNames.add(p.name);
  });
  const sourceNames = new Set<string>();
  r.sources.forEach((s, i) => {
    if (sourceNames.has(s.name)) throw new ValidationError(`duplicate source ${s.name}`, `sources[${i}].name`);
    sourceNames.add(s.name);
    if (!pipelineNames.has(s.pipeline)) throw new ValidationError(`unknown pipeline ${s.pipeline} (defined: ${[...pipelineNames].join(", ")})`, `sources[${i}].pipeline`);
    if (!s.uri && !s.hf_id && !s.members) throw new ValidationError("give uri, hf_id or members", `sources[${i}]`);
  });
  r.stages.forEach((st, si) =>
    st.phases.forEach((ph, pi) =>
      ph.mix.forEach((m, mi) => {
        if (!sourceNames.has(m.source)) throw new ValidationError(`unknown source ${m.source}`, `stages[${si}].phases[${pi}].mix[${mi}].source`);
      }),
    ),
  );
  validateModel(r.model);
  const recipe = { ...r, pipelines };
  planRecipe(recipe); // every stage's mixture must plan: budgets, epochs, schedules
  return recipe;
}

/** One mixture spec per stage; components are named after sources and reference them by name. */
export function recipeMixtures(r: Recipe): { stage: string; spec: MixtureSpec }[] {
  return r.stages.map((st) => ({
    stage: st.name,
    spec: {
      seed: r.seed,
      seq_len: st.seq_len,
      tokenizer: r.tokenizer,
      ...(st.block_size ? { block_size: st.block_size } : {}),
      phases: st.phases.map((ph) => ({
        name: ph.name,
        ...(ph.tokens !== undefined ? { tokens: ph.tokens } : {}),
        components: ph.mix.map(({ source, ...form }) => ({ name: source, dataset: source, ...form })),
        ...(ph.schedule ? { schedule: ph.schedule } : {}),
      })),
    },
  }));
}

/** DatasetInfo from a recipe source's declared sizes (offline planning). */
export function declaredDataset(s: RecipeSource, tokenizer: string): DatasetInfo {
  return { key: s.name, name: s.name, fingerprint: `declared:${s.name}`, tokenizer, tokens: s.declared.tokens, rows: s.declared.rows ?? 0, shards: 0, declared: true };
}

export interface RecipePlan {
  stage: string;
  plan: MixturePlan;
}

/** Plans every stage offline from the sources' declared sizes. Errors name the recipe path. */
export function planRecipe(r: Recipe, resolve?: (source: RecipeSource) => DatasetInfo): RecipePlan[] {
  const byName = new Map(r.sources.map((s) => [s.name, s]));
  return recipeMixtures(r).map(({ stage, spec }, si) => {
    try {
      const plan = planMixture(spec, (ref) => (resolve ?? ((s) => declaredDataset(s, r.tokenizer)))(byName.get(ref)!));
      return { stage, plan };
    } catch (err) {
      if (err instanceof ValidationError) {
        const field = (err.field ?? "").replace(/^phases\[(\d+)\]\.components/, "phases[$1].mix");
        throw new ValidationError(err.message.replace(/^[^:]*: /, ""), `stages[${si}].${field}`);
      }
      throw err;
    }
  });
}

export function recipeBudgetRows(plans: RecipePlan[]): BudgetRow[] {
  return plans.flatMap((p) => budgetRows(p.plan));
}

export function recipeHash(r: Recipe): string {
  return sha256Hex(canonicalJson(r)).slice(0, 32);
}

export interface RecipeDifference {
  path: string;
  a: unknown;
  b: unknown;
}

/** Structural diff of two recipes: every leaf that differs, with its path (lists by index, mixes by source). */
export function diffRecipes(a: unknown, b: unknown, path = ""): RecipeDifference[] {
  if (canonicalJson(a) === canonicalJson(b)) return [];
  const keyed = (v: unknown): Map<string, unknown> | null => {
    if (!Array.isArray(v) || !v.every((x) => x && typeof x === "object" && ("name" in x || "source" in x))) return null;
    return new Map(v.map((x) => [String((x as { name?: string; source?: string }).name ?? (x as { source: string }).source), x]));
  };
  const ka = keyed(a);
  const kb = keyed(b);
  if (ka && kb) {
    const out: RecipeDifference[] = [];
    for (const k of new Set([...ka.keys(), ...kb.keys()])) out.push(...diffRecipes(ka.get(k), kb.get(k), `${path}[${k}]`));
    return out;
  }
  const isObj = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const out: RecipeDifference[] = [];
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) out.push(...diffRecipes(ra[k], rb[k], path ? `${path}.${k}` : k));
    return out;
  }
  return [{ path: path || "(root)", a, b }];
}
