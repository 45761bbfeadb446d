import type { DedupConfig } from "./config.js";
import { dedupKeys } from "./config.js";
import { type DropFile, runCluster } from "./cluster.js";
import { runPartition } from "./partition.js";
import { createCollector } from "./records.js";
import { MemStore } from "../test-helpers.js";
import type { Doc } from "../types.js";

/** Runs one barrier's collect → partition → cluster over in-memory tasks (texts in read order). */
export async function dedupTexts(tasks: { id: string; text: string }[][], config: DedupConfig, partitions: number) {
  const store = new MemStore();
  const work = "_work/dedup/";
  for (const [t, docs] of tasks.entries()) {
    const c = createCollector({ store, key: dedupKeys.taskFile(work, 0, t), barrier: 0, config, partitions });
    await c.add(docs.map((d, ordinal): Doc => ({ doc_id: d.id, text: d.text, line: ordinal + 1, byte_offset: 0, fields: {}, ordinal })));
    await c.finish();
  }
  let edges = 0;
  for (let p = 0; p < partitions; p++) edges += (await runPartition({ store, work, barrier: 0, config, partition: p, tasks: tasks.length })).edges;
  await runCluster({ store, work, barrier: 0, config, partitions, tasks: tasks.length });
  const drops: DropFile[] = [];
  for (let t = 0; t < tasks.length; t++) drops.push(JSON.parse((await store.get(dedupKeys.drops(work, 0, t))).toString()) as DropFile);
  /** dropped doc_id → [kept doc_id, estimated Jaccard] */
  const dropped = new Map<string, [string, number]>();
  drops.forEach((f, t) => f.drops.forEach(([ord, kept, jac]) => dropped.set(tasks[t]![ord]!.id, [kept, jac])));
  return { drops, dropped, edges };
}
