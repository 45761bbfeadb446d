import { NotFoundError } from "@tokenmill/domain";
import type { ObjectStore } from "@tokenmill/storage";
import type { DropFile } from "./cluster.js";
import { type Barrier, dedupKeys } from "./config.js";
import { createCollector } from "./records.js";
import type { DedupPass } from "./step.js";

/**
 * The multi-pass schedule shared by local mode and the worker. A pipeline with dedup steps
 * (barriers 0..B-1) runs as: for each barrier k, a collect pass over every task (steps before the
 * barrier, earlier barriers' drop lists applied; records written instead of shards), one partition
 * job per hash partition, one cluster job; then the final pass, which is the ordinary task run with
 * every drop list applied. Earlier steps are recomputed in each pass (they are deterministic), so
 * no intermediate documents are stored: only hashes/signatures, edges and drop lists.
 */

/** Drop lists of barriers 0..upTo-1 for one task. */
export async function loadDrops(store: ObjectStore, work: string, upTo: number, task: number): Promise<DropFile[]> {
  const out: DropFile[] = [];
  for (let b = 0; b < upTo; b++) {
    const key = dedupKeys.drops(work, b, task);
    try {
      out.push(JSON.parse((await store.get(key)).toString("utf8")) as DropFile);
    } catch (err) {
      if (err instanceof NotFoundError) throw new Error(`drop list ${key} is missing: barrier ${b} was not clustered`);
      throw err;
    }
  }
  return out;
}

/** The dedup option of runTask for a collect pass of `barrier`. */
export async function collectPass(store: ObjectStore, work: string, barrier: Barrier, task: number, partitions: number): Promise<DedupPass> {
  return {
    drops: await loadDrops(store, work, barrier.barrier, task),
    collect: createCollector({ store, key: dedupKeys.taskFile(work, barrier.barrier, task), barrier: barrier.barrier, config: barrier.config, partitions }),
  };
}

/** The dedup option of runTask for the final pass, or undefined for a pipeline without dedup. */
export async function finalPass(store: ObjectStore, work: string, barriers: Barrier[], task: number): Promise<DedupPass | undefined> {
  if (barriers.length === 0) return undefined;
  return { drops: await loadDrops(store, work, barriers.length, task) };
}

/** Deletes a version's dedup intermediates (after its manifest is written). */
export async function removeDedupWork(store: ObjectStore, work: string): Promise<number> {
  const objects = await store.list(work);
  for (const o of objects) await store.delete(o.key);
  return objects.length;
}
