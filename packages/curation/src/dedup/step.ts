import type { StepConfig } from "@tokenmill/domain";
import type { Doc, Drop } from "../types.js";
import type { Step } from "../steps/step.js";
import { dropOf } from "../steps/step.js";
import { type DedupConfig, dedupConfig } from "./config.js";
import type { DropFile } from "./cluster.js";
import type { DedupCollector } from "./records.js";

/**
 * A dedup step as the per-task pipeline sees it: a filter that applies its barrier's drop list
 * (computed across all tasks by the collect → partition → cluster passes). It cannot run on its
 * own: the engine binds the drop list first (see bindDedupSteps).
 */
export interface DedupStep extends Step {
  readonly dedup: DedupConfig;
  bind(drops: DropFile): void;
}

export function createDedupStep(config: StepConfig): DedupStep {
  const dedup = dedupConfig(config);
  let verdicts: Map<number, string> | null = null;
  const reason = dedup.kind === "exact" ? "exact_dedup:duplicate" : "minhash_dedup:near_duplicate";
  return {
    name: config.step,
    dedup,
    bind(file) {
      verdicts = new Map(
        file.drops.map(([ord, id, jac, task, keptOrd]) => {
          const kept = `kept doc_id=${id} (task ${task}, record ${keptOrd})`;
          return [ord, dedup.kind === "exact" ? kept : `${kept}; estimated_jaccard=${jac.toFixed(3)}`];
        }),
      );
    },
    async processBatch(docs) {
      if (!verdicts) throw new Error(`${config.step} runs across tasks: use curateLocal or the curator worker, not runTask alone`);
      const kept: Doc[] = [];
      const dropped: Drop[] = [];
      for (const doc of docs) {
        const v = doc.ordinal === undefined ? undefined : verdicts.get(doc.ordinal);
        if (!v) kept.push(doc);
        else dropped.push(dropOf(doc, reason, v));
      }
      return { kept, dropped };
    },
  };
}

function isDedup(step: Step): step is DedupStep {
  return "dedup" in step && "bind" in step;
}

/** What one run of a task needs for its pipeline's dedup steps. */
export interface DedupPass {
  /** Drop lists of the barriers before the collect barrier (all barriers in the final pass), by barrier number. */
  drops: DropFile[];
  /** Set in a collect pass: documents reaching this barrier go to it, and the task stops there. */
  collect?: DedupCollector;
}

/**
 * Binds drop lists to the pipeline's dedup steps and returns the index of the step where a collect
 * pass stops (-1 when it runs to the end). A pipeline without dedup steps is left untouched.
 */
export function bindDedupSteps(steps: Step[], pass: DedupPass | undefined): number {
  let barrier = 0;
  for (const [i, step] of steps.entries()) {
    if (!isDedup(step)) continue;
    if (pass?.collect && pass.collect.barrier === barrier) return i;
    const drops = pass?.drops[barrier];
    if (!drops) throw new Error(`${step.name} (dedup barrier ${barrier}) has no drop list: it runs across tasks (curateLocal or the curator worker)`);
    if (drops.step !== step.name) throw new Error(`drop list of barrier ${barrier} is for ${drops.step}, not ${step.name}`);
    step.bind(drops);
    barrier++;
  }
  if (pass?.collect) throw new Error(`the pipeline has no dedup barrier ${pass.collect.barrier}`);
  return -1;
}
