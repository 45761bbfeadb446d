import { type PipelineSpec, type StepConfig, ValidationError } from "@tokenmill/domain";
import type { MinhashParams } from "./minhash.js";

export type DedupKind = "exact" | "minhash";

export interface ExactDedupConfig {
  kind: "exact";
  step: "exact_dedup";
  normalize: "none" | "whitespace";
}

export interface MinhashDedupConfig {
  kind: "minhash";
  step: "minhash_dedup";
  minhash: MinhashParams;
  threshold: number;
}

export type DedupConfig = ExactDedupConfig | MinhashDedupConfig;

/** A dedup step of a pipeline: the engine's barrier number `barrier` sits at `stepIndex` of spec.steps. */
export interface Barrier {
  barrier: number;
  stepIndex: number;
  config: DedupConfig;
}

export const DEDUP_STEP_NAMES: readonly string[] = ["exact_dedup", "minhash_dedup"];

export function isDedupStep(name: string): boolean {
  return DEDUP_STEP_NAMES.includes(name);
}

export function dedupConfig(c: StepConfig): DedupConfig {
  if (c.step === "exact_dedup") return { kind: "exact", step: "exact_dedup", normalize: c.normalize as "none" | "whitespace" };
  if (c.step === "minhash_dedup") {
    const bits = c.hash_bits as number;
    if (bits !== 32 && bits !== 64) throw new ValidationError(`must be 32 or 64, got ${bits}`, "minhash_dedup.hash_bits");
    return {
      kind: "minhash",
      step: "minhash_dedup",
      minhash: {
        ngram: c.ngram as number,
        buckets: c.buckets as number,
        hashesPerBucket: c.hashes_per_bucket as number,
        hashBits: bits,
        seed: c.seed as number,
      },
      threshold: c.threshold as number,
    };
  }
  throw new Error(`${c.step} is not a dedup step`);
}

/** The pipeline's dedup steps in order; empty for a pipeline without dedup (single pass, as before). */
export function dedupBarriers(spec: PipelineSpec): Barrier[] {
  const out: Barrier[] = [];
  spec.steps.forEach((s, stepIndex) => {
    if (isDedupStep(s.step)) out.push({ barrier: out.length, stepIndex, config: dedupConfig(s) });
  });
  return out;
}

/**
 * Hash partitions per barrier when none is given: one per task (so partition work spreads like
 * task work), at most 256. The result does not depend on it; only the work split does.
 */
export function defaultPartitions(tasks: number): number {
  return Math.min(256, Math.max(1, tasks));
}

/** Where a dataset version's dedup intermediates live; removed once the version is published. */
export function dedupWorkPrefix(prefix: string): string {
  return `${prefix}_work/dedup/`;
}

const pad = (n: number) => String(n).padStart(5, "0");

export const dedupKeys = {
  taskFile: (work: string, barrier: number, task: number) => `${work}b${barrier}/records/task-${pad(task)}.bin`,
  edges: (work: string, barrier: number, partition: number) => `${work}b${barrier}/edges/part-${pad(partition)}.bin`,
  drops: (work: string, barrier: number, task: number) => `${work}b${barrier}/drops/task-${pad(task)}.json`,
};
