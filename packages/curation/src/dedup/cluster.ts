import type { ObjectStore } from "@tokenmill/storage";
import { type DedupConfig, dedupKeys } from "./config.js";
import { EDGE_WORDS, edgeJaccard } from "./partition.js";
import { readDocIds, readDocRecords, readTaskHeader } from "./task-file.js";

/** One task's drop list for one barrier, sorted by ordinal; the kept document by doc_id, task and ordinal. */
export interface DropFile {
  step: string;
  drops: [ordinal: number, keptDocId: string, jaccard: number, keptTask: number, keptOrdinal: number][];
}

export interface ClusterOptions {
  store: ObjectStore;
  work: string;
  barrier: number;
  config: DedupConfig;
  partitions: number;
  tasks: number;
}

// Task indices stay below 2^21, so (task, ordinal) packs into one exact double.
const keyOf = (task: number, ord: number) => task * 4294967296 + ord;

/**
 * Resolves one barrier's edges into drop lists. Works on the edges only (their number is that of
 * the verified duplicate pairs, not of the documents). Documents are visited in key order
 * (task, then read order); a document is dropped when it has an edge to an earlier document that
 * is kept, and the kept document it names is the first such one. So the first document of every
 * cluster is kept, the result depends only on the set of edges (not on the partition count or
 * on job order), and a dropped document is always within the threshold of the document it names:
 * a chain A~B~C where A and C are not similar keeps C.
 */
export async function runCluster(o: ClusterOptions): Promise<{ dropped: number; edges: number }> {
  const all: Uint32Array[] = [];
  let total = 0;
  for (let p = 0; p < o.partitions; p++) {
    const b = await o.store.get(dedupKeys.edges(o.work, o.barrier, p));
    const copy = new Uint8Array(b.length);
    copy.set(b);
    const w = new Uint32Array(copy.buffer, 0, b.length >>> 2);
    all.push(w);
    total += w.length / EDGE_WORDS;
  }
  const edges: { a: number; b: number; ta: number; ia: number; tb: number; ob: number; jac: number }[] = [];
  for (const w of all) {
    for (let i = 0; i < w.length; i += EDGE_WORDS) {
      edges.push({ ta: w[i]!, ia: w[i + 1]!, a: keyOf(w[i]!, w[i + 2]!), tb: w[i + 3]!, ob: w[i + 5]!, b: keyOf(w[i + 3]!, w[i + 5]!), jac: edgeJaccard(w[i + 6]!) });
    }
  }
  edges.sort((x, y) => x.b - y.b || x.a - y.a);

  const droppedKeys = new Set<number>();
  // Per task of the dropped document: [ordinal, kept task, kept doc index, jaccard].
  const drops = new Map<number, [number, number, number, number][]>();
  for (let i = 0; i < edges.length; ) {
    let j = i;
    while (j < edges.length && edges[j]!.b === edges[i]!.b) j++;
    const keeper = edges.slice(i, j).find((e) => !droppedKeys.has(e.a));
    if (keeper) {
      droppedKeys.add(keeper.b);
      const list = drops.get(keeper.tb) ?? drops.set(keeper.tb, []).get(keeper.tb)!;
      list.push([keeper.ob, keeper.ta, keeper.ia, keeper.jac]);
    }
    i = j;
  }

  // doc_ids of the kept documents named, read by range from their task files.
  const wanted = new Map<number, Set<number>>();
  for (const list of drops.values()) for (const [, ta, ia] of list) (wanted.get(ta) ?? wanted.set(ta, new Set()).get(ta)!).add(ia);
  const ids = new Map<string, [string, number]>();
  await Promise.all(
    [...wanted].map(async ([t, set]) => {
      const key = dedupKeys.taskFile(o.work, o.barrier, t);
      const h = await readTaskHeader(o.store, key);
      const idxs = [...set].sort((a, b) => a - b);
      const recs = await readDocRecords(o.store, key, h, idxs);
      const names = await readDocIds(o.store, key, h, idxs.map((i) => recs.get(i)!));
      idxs.forEach((i, k) => ids.set(`${t}:${i}`, [names[k]!, recs.get(i)!.ordinal]));
    }),
  );

  let dropped = 0;
  for (let t = 0; t < o.tasks; t++) {
    const list = (drops.get(t) ?? []).sort((x, y) => x[0] - y[0]);
    dropped += list.length;
    const file: DropFile = {
      step: o.config.step,
      drops: list.map(([ord, ta, ia, jac]) => {
        const [id, keptOrd] = ids.get(`${ta}:${ia}`)!;
        return [ord, id, Math.round(jac * 1e4) / 1e4, ta, keptOrd];
      }),
    };
    await o.store.put(dedupKeys.drops(o.work, o.barrier, t), JSON.stringify(file));
  }
  return { dropped, edges: total };
}
