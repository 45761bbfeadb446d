import { ValidationError } from "../errors.js";

/** Decoder-only model shape as recipes declare it (MobileLLM-R1 / Llama-style, dense). */
export interface ModelConfig {
  name: string;
  architecture: string;
  layers: number;
  hidden_size: number;
  heads: number;
  kv_heads: number;
  head_dim: number;
  ffn_hidden_size: number;
  vocab_size: number;
  tie_embeddings: boolean;
  qk_norm: boolean;
  rope_theta: number;
  max_position_embeddings: number;
  norm_eps: number;
  /** Expected parameter count; checked against the analytic count when given. */
  params?: number;
}

/**
 * Analytic parameter count: embeddings (tied → once), per layer Q/K/V/O without bias, SwiGLU
 * (gate, up, down), two RMSNorm weights, plus the final norm. QK-norm is parameter-free
 * (Llama4TextL2Norm), so it adds nothing. Matches 140,248,512 / 359,431,168 / 949,685,760.
 */
export function countParams(m: ModelConfig): number {
  const d = m.hidden_size;
  const attn = d * m.heads * m.head_dim * 2 + d * m.kv_heads * m.head_dim * 2;
  const mlp = 3 * d * m.ffn_hidden_size;
  const layer = attn + mlp + 2 * d;
  const emb = m.vocab_size * d * (m.tie_embeddings ? 1 : 2);
  return emb + m.layers * layer + d;
}

export function validateModel(m: ModelConfig, field = "model"): void {
  if (m.heads % m.kv_heads !== 0) throw new ValidationError(`heads (${m.heads}) must be a multiple of kv_heads (${m.kv_heads})`, `${field}.kv_heads`);
  if (m.heads * m.head_dim !== m.hidden_size) {
    throw new ValidationError(`heads × head_dim = ${m.heads * m.head_dim} must equal hidden_size ${m.hidden_size}`, `${field}.head_dim`);
  }
  if (m.params !== undefined && countParams(m) !== m.params) {
    throw new ValidationError(`declares ${m.params.toLocaleString("en-US")} parameters, the shapes give ${countParams(m).toLocaleString("en-US")}`, `${field}.params`);
  }
}

/** Shrinks a model for a scaled-down run: width and depth by √F-ish steps, keeping head_dim. */
export function scaleModel(m: ModelConfig, factor: number): ModelConfig {
  if (factor >= 1) return m;
  const heads = Math.max(2, Math.round(m.heads * Math.sqrt(factor) / m.kv_heads) * m.kv_heads || m.kv_heads);
  const kv = Math.min(m.kv_heads, heads);
  const headDim = Math.min(m.head_dim, 32);
  const hidden = heads * headDim;
  const out: ModelConfig = {
    ...m,
    name: `${m.name}-scaled`,
    layers: Math.max(2, Math.round(m.layers * Math.sqrt(factor))),
    heads,
    kv_heads: heads % kv === 0 ? kv : 1,
    head_dim: headDim,
    hidden_size: hidden,
    ffn_hidden_size: Math.max(64, Math.round((m.ffn_hidden_size / m.hidden_size) * hidden / 64) * 64),
  };
  delete out.params;
  return { ...out, params: countParams(out) };
}
