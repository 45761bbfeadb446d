import type { MixturePlan, Recipe } from "@tokenmill/domain";

export interface SpecInputs {
  runId: string;
  recipe: Recipe;
  stage: string;
  plan: MixturePlan;
  /** Plan dataset key (fingerprint) → the version's folder URI and manifest. */
  datasets: Record<string, { uri: string; manifest: unknown }>;
  overrides: Record<string, unknown>;
  checkpointDir: string;
  outputDir: string;
  progressEndpoint: string;
  gpus: number;
}

/** The recipe's model block in the trainer's ModelConfig fields. */
export function trainerModel(m: Recipe["model"]): Record<string, unknown> {
  return {
    name: m.name,
    dim: m.hidden_size,
    n_layers: m.layers,
    n_heads: m.heads,
    n_kv_heads: m.kv_heads,
    ffn_dim: m.ffn_hidden_size,
    head_dim: m.head_dim,
    vocab_size: m.vocab_size,
    norm_eps: m.norm_eps,
    rope_theta: m.rope_theta,
    max_seq_len: m.max_position_embeddings,
  };
}

/**
 * The training job spec (contract 5, spec_version 1) for one stage: the recipe's model and the
 * first phase's hyperparameters (phases of a stage share an optimizer run), launch overrides on top.
 * No secret goes in: the run token reaches the trainer through TOKENMILL_RUN_TOKEN.
 */
export function buildJobSpec(i: SpecInputs): Record<string, unknown> {
  const st = i.recipe.stages.find((s) => s.name === i.stage);
  if (!st) throw new Error(`recipe has no stage ${i.stage}`);
  const t = st.phases[0]!.training;
  const o = i.overrides as {
    model?: Record<string, unknown>;
    micro_batch_size?: number;
    grad_accum?: number;
    max_steps?: number;
    lr?: number;
    warmup_steps?: number;
    checkpoint_every_steps?: number;
    progress_every_steps?: number;
    device?: string;
    precision?: string;
    seed?: number;
  };
  const opt = t.optimizer ?? {};
  return {
    spec_version: 1,
    run_id: i.runId,
    seed: o.seed ?? i.recipe.seed,
    model: o.model ?? trainerModel(i.recipe.model),
    optimizer: {
      lr: o.lr ?? t.peak_lr,
      betas: [opt.beta1 ?? 0.9, opt.beta2 ?? 0.95],
      eps: opt.eps ?? 1e-8,
      weight_decay: opt.weight_decay ?? 0.1,
      grad_clip: t.grad_clip ?? 1.0,
    },
    schedule: { warmup_steps: o.warmup_steps ?? t.warmup_steps ?? 0, decay: t.decay ?? "linear", min_lr_ratio: t.final_lr_ratio ?? 0.1, total_steps: null },
    batch: { micro_batch_size: o.micro_batch_size ?? t.per_gpu_batch, grad_accum: o.grad_accum ?? 1 },
    data: { plan: i.plan, datasets: i.datasets, verify_sha256: true },
    checkpoint: { dir: i.checkpointDir, every_steps: o.checkpoint_every_steps ?? null, keep: 2, resume: "auto" },
    progress: { endpoint: i.progressEndpoint, every_steps: o.progress_every_steps ?? 10, timeout_s: 10 },
    runtime: { device: o.device ?? (i.gpus > 0 ? "auto" : "cpu"), precision: o.precision ?? (t.precision === "fp32" ? "fp32" : "auto"), kernels: "auto", compile: false, parallel: "auto" },
    output_dir: i.outputDir,
    max_steps: o.max_steps ?? null,
  };
}
