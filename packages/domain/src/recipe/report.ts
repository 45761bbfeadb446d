import type { MixturePlan } from "../mixture/plan.js";
import { countParams, type ModelConfig } from "./model.js";
import type { RecipeStage } from "./recipe.js";

const fmt = (n: number) => n.toLocaleString("en-US");

/** Parameter count as people say it: 140.2M, 949.7M, 1.2B. */
export function humanParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : fmt(n);
}

/**
 * The line that names the model a plan is for, so the 140M and 950M recipes' tables (whose mixtures
 * can be identical) are told apart: name, parameters and shape.
 */
export function modelLine(recipeName: string, m: ModelConfig): string {
  const n = countParams(m);
  return (
    `recipe ${recipeName}: model ${m.name}, ${humanParams(n)} parameters (${fmt(n)}): ${m.layers} layers, hidden ${m.hidden_size}, ` +
    `${m.heads} heads / ${m.kv_heads} kv × ${m.head_dim}, ffn ${m.ffn_hidden_size}, vocab ${fmt(m.vocab_size)}, context ${fmt(m.max_position_embeddings)}`
  );
}

export interface PhaseBudget {
  phase: string;
  tokens: number;
  sequences: number;
  /** Sequences per optimizer step: per_gpu_batch × gpus. */
  global_batch: number;
  /** Steps the planned tokens make at that batch and the stage's seq_len (rounded up). */
  steps: number;
  /** Steps the recipe declares for the phase. */
  recipe_steps: number;
}

/** Per phase of a stage: its planned token budget and the optimizer steps it implies. */
export function phaseBudgets(stage: RecipeStage, plan: MixturePlan): PhaseBudget[] {
  return plan.phases.map((p) => {
    const t = stage.phases.find((x) => x.name === p.name)?.training;
    const global = t ? t.per_gpu_batch * t.gpus : 1;
    return { phase: p.name, tokens: p.tokens, sequences: p.sequences, global_batch: global, steps: Math.ceil(p.sequences / global), recipe_steps: t?.steps ?? 0 };
  });
}

export function phaseBudgetLine(b: PhaseBudget, seqLen: number): string {
  return `  phase ${b.phase}: ${fmt(b.tokens)} tokens = ${fmt(b.steps)} steps × ${fmt(b.global_batch)} sequences × ${fmt(seqLen)} tokens (recipe: ${fmt(b.recipe_steps)} steps)`;
}
