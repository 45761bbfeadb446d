import { ValidationError } from "../errors.js";

/**
 * A tiny declarative validator for recipe files: every object lists its keys, so unknown keys,
 * wrong types and out-of-range numbers are errors naming their path (`stages[0].phases[1].mix[2].weight`).
 */
export type Shape =
  | { t: "string"; optional?: boolean; nullable?: boolean; pattern?: RegExp; enum?: readonly string[] }
  | { t: "number"; optional?: boolean; nullable?: boolean; min?: number; exclusiveMin?: boolean; integer?: boolean }
  | { t: "boolean"; optional?: boolean }
  | { t: "any"; optional?: boolean }
  | { t: "array"; of: Shape; optional?: boolean; minItems?: number }
  | { t: "object"; keys: Record<string, Shape>; optional?: boolean; nullable?: boolean }
  | { t: "map"; of: Shape; optional?: boolean };

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export function check(shape: Shape, v: unknown, path: string): void {
  const at = path || "recipe";
  if (v === undefined) {
    if ("optional" in shape && shape.optional) return;
    throw new ValidationError("is required", at);
  }
  if (v === null) {
    if ("nullable" in shape && shape.nullable) return;
    throw new ValidationError("must not be null", at);
  }
  switch (shape.t) {
    case "any":
      return;
    case "string":
      if (typeof v !== "string") throw new ValidationError(`must be a string, got ${JSON.stringify(v)}`, at);
      if (shape.pattern && !shape.pattern.test(v)) throw new ValidationError(`must match ${shape.pattern}, got ${JSON.stringify(v)}`, at);
      if (shape.enum && !shape.enum.includes(v)) throw new ValidationError(`must be one of ${shape.enum.join(", ")}, got ${JSON.stringify(v)}`, at);
      return;
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) throw new ValidationError(`must be a finite number, got ${JSON.stringify(v)}`, at);
      if (shape.integer && !Number.isSafeInteger(v)) throw new ValidationError(`must be an integer, got ${v}`, at);
      if (shape.min !== undefined && (shape.exclusiveMin ? v <= shape.min : v < shape.min)) {
        throw new ValidationError(`must be ${shape.exclusiveMin ? ">" : "≥"} ${shape.min}, got ${v}`, at);
      }
      return;
    case "boolean":
      if (typeof v !== "boolean") throw new ValidationError(`must be true or false, got ${JSON.stringify(v)}`, at);
      return;
    case "array":
      if (!Array.isArray(v)) throw new ValidationError("must be a list", at);
      if (shape.minItems && v.length < shape.minItems) throw new ValidationError(`must have at least ${shape.minItems} item(s)`, at);
      v.forEach((x, i) => check(shape.of, x, `${path}[${i}]`));
      return;
    case "map":
      if (!isObj(v)) throw new ValidationError("must be a mapping", at);
      for (const [k, x] of Object.entries(v)) check(shape.of, x, `${path}.${k}`);
      return;
    case "object":
      if (!isObj(v)) throw new ValidationError("must be a mapping", at);
      for (const k of Object.keys(v)) {
        if (!(k in shape.keys)) throw new ValidationError(`unknown key (allowed: ${Object.keys(shape.keys).join(", ")})`, path ? `${path}.${k}` : k);
      }
      for (const [k, s] of Object.entries(shape.keys)) check(s, v[k], path ? `${path}.${k}` : k);
      return;
  }
}

const str = { t: "string" } as const;
const optStr = { t: "string", optional: true } as const;
const num = (o: Partial<{ min: number; integer: boolean; exclusiveMin: boolean; optional: boolean; nullable: boolean }> = {}) => ({ t: "number", ...o }) as const;
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export const RECIPE_SHAPE: Shape = {
  t: "object",
  keys: {
    recipe_version: num({ integer: true }),
    name: { t: "string", pattern: NAME },
    description: optStr,
    seed: num({ integer: true, min: 0 }),
    tokenizer: { t: "string", enum: ["llama3"] },
    tools: { t: "map", of: str },
    sources: {
      t: "array",
      minItems: 1,
      of: {
        t: "object",
        keys: {
          name: { t: "string", pattern: NAME },
          title: optStr,
          domain: { t: "string", enum: ["web", "code", "math", "knowledge", "reasoning", "science", "mixed"] },
          uri: optStr,
          hf_id: optStr,
          subset: { t: "string", optional: true, nullable: true },
          members: { t: "array", optional: true, of: { t: "object", keys: { name: str, hf_id: optStr, subset: optStr, location: optStr } } },
          identity: {
            t: "object",
            keys: {
              revision: { t: "string", optional: true, nullable: true },
              sha256: { t: "map", optional: true, of: { t: "string", pattern: /^[0-9a-f]{64}$/ } },
              dataset_fingerprint: optStr,
            },
          },
          declared: { t: "object", keys: { tokens: num({ min: 0, nullable: true }), rows: num({ min: 0, integer: true, nullable: true }) } },
          pipeline: str,
          sample: optStr,
        },
      },
    },
    pipelines: { t: "array", minItems: 1, of: { t: "any" } },
    model: {
      t: "object",
      keys: {
        name: str,
        architecture: str,
        layers: num({ integer: true, min: 1 }),
        hidden_size: num({ integer: true, min: 1 }),
        heads: num({ integer: true, min: 1 }),
        kv_heads: num({ integer: true, min: 1 }),
        head_dim: num({ integer: true, min: 1 }),
        ffn_hidden_size: num({ integer: true, min: 1 }),
        vocab_size: num({ integer: true, min: 1 }),
        tie_embeddings: { t: "boolean" },
        qk_norm: { t: "boolean" },
        rope_theta: num({ min: 0, exclusiveMin: true }),
        max_position_embeddings: num({ integer: true, min: 1 }),
        norm_eps: num({ min: 0, exclusiveMin: true }),
        params: num({ integer: true, min: 1, optional: true }),
      },
    },
    stages: {
      t: "array",
      minItems: 1,
      of: {
        t: "object",
        keys: {
          name: { t: "string", pattern: NAME },
          seq_len: num({ integer: true, min: 1 }),
          block_size: num({ integer: true, min: 1, optional: true }),
          phases: {
            t: "array",
            minItems: 1,
            of: {
              t: "object",
              keys: {
                name: { t: "string", pattern: NAME },
                init: optStr,
                tokens: num({ min: 0, exclusiveMin: true, optional: true }),
                mix: {
                  t: "array",
                  minItems: 1,
                  of: {
                    t: "object",
                    keys: {
                      source: str,
                      weight: num({ min: 0, optional: true }),
                      repeat: num({ min: 0, optional: true }),
                      tokens: num({ min: 0, optional: true }),
                      max_epochs: num({ min: 0, exclusiveMin: true, optional: true }),
                    },
                  },
                },
                schedule: { t: "array", optional: true, of: { t: "object", keys: { start_tokens: num({ integer: true, min: 0 }), weights: { t: "map", of: num({ min: 0 }) } } } },
                training: {
                  t: "object",
                  keys: {
                    per_gpu_batch: num({ integer: true, min: 1 }),
                    gpus: num({ integer: true, min: 1 }),
                    steps: num({ integer: true, min: 1 }),
                    peak_lr: num({ min: 0, exclusiveMin: true }),
                    warmup_steps: num({ integer: true, min: 0, optional: true }),
                    decay: { t: "string", enum: ["linear", "cosine", "constant"] },
                    final_lr_ratio: num({ min: 0 }),
                    optimizer: {
                      t: "object",
                      keys: { name: { t: "string", enum: ["adamw", "adam"] }, beta1: num({ min: 0, optional: true }), beta2: num({ min: 0, optional: true }), eps: num({ min: 0, optional: true }), weight_decay: num({ min: 0, optional: true }) },
                    },
                    precision: { t: "string", enum: ["bf16", "fp32", "fp16"] },
                    grad_clip: num({ min: 0, optional: true }),
                    distillation: { t: "object", optional: true, keys: { teacher: str, loss: optStr } },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

/** Re-orders object keys as the shape declares them (JSONB stores keys sorted); unknown keys keep their place at the end. */
export function orderLike(shape: Shape, v: unknown): unknown {
  if (shape.t === "array" && Array.isArray(v)) return v.map((x) => orderLike(shape.of, x));
  if (shape.t === "object" && isObj(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, s] of Object.entries(shape.keys)) if (k in v) out[k] = orderLike(s, v[k]);
    for (const k of Object.keys(v)) if (!(k in out)) out[k] = v[k];
    return out;
  }
  return v;
}
