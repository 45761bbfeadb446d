import type { StepConfig } from "@tokenmill/domain";
import { NgramIndex } from "../filters/decontam.js";
import { BUNDLED_EVAL_DIR, loadEvalSet } from "../filters/eval-sets.js";
import { filterBatch, type Step } from "./step.js";

const indexes = new Map<string, Promise<NgramIndex>>();

/** One index per (eval sets, n, folder), built once per process and shared by its tasks. */
export function evalIndex(sets: string[], n: number, dir: string): Promise<NgramIndex> {
  const key = JSON.stringify([sets, n, dir]);
  let p = indexes.get(key);
  if (!p) {
    p = (async () => {
      const index = new NgramIndex(n);
      for (const set of sets) {
        const added = index.add(set, await loadEvalSet(set, dir));
        if (added === 0) throw new Error(`decontaminate: eval set "${set}" yields no ${n}-grams (every item is shorter than ${n} words)`);
      }
      return index;
    })();
    // A failed load is not cached: the next run retries (and fails again, loudly, if still broken).
    p.catch(() => indexes.delete(key));
    indexes.set(key, p);
  }
  return p;
}

/**
 * Drops documents that share word n-grams with a registered eval set. Reason
 * `decontaminate:<eval set>`, detail `<item id>: "<matched n-gram>"`.
 */
export async function createDecontaminateStep(config: StepConfig): Promise<Step> {
  const sets = config.eval_sets as string[];
  const n = config.ngram as number;
  const minMatches = config.min_matches as number;
  const dir = (config.eval_dir as string) || BUNDLED_EVAL_DIR;
  const index = await evalIndex(sets, n, dir);
  return {
    name: "decontaminate",
    async processBatch(docs) {
      return filterBatch("decontaminate", docs, (doc) => {
        const hit = index.find(doc.text, minMatches);
        if (!hit) return null;
        return [hit.item.set, `${hit.item.id}: ${n}-gram "${hit.ngram}"${hit.matches > 1 ? ` (${hit.matches} distinct n-grams)` : ""}`];
      });
    },
  };
}
