import type { ObjectStore } from "@tokenmill/storage";
import { type DedupConfig, dedupKeys } from "./config.js";
import { MinHasher } from "./minhash.js";
import { readDocRecords, readPartitionRecords, readTaskHeader, type TaskFileHeader, U32List } from "./task-file.js";

/** u32 words per edge: task, doc index and ordinal of the earlier document, then the later, then the Jaccard (f32 bits). */
export const EDGE_WORDS = 7;

// Members of one bucket compared with at most this many earlier members: a pathological bucket
// (boilerplate shared by thousands of documents) stays linear, and the choice is deterministic.
const MAX_COMPARE = 64;

export interface PartitionOptions {
  store: ObjectStore;
  work: string;
  barrier: number;
  config: DedupConfig;
  partition: number;
  tasks: number;
}

interface Rec {
  task: number;
  idx: number;
  ord: number;
  /** Offset of the key in its task's record array. */
  at: number;
  recs: Uint32Array;
}

/**
 * One hash partition of one barrier: reads the partition's slice of every task file, groups equal
 * keys and writes the duplicate edges (earlier document → later document) it finds. Exact groups
 * give edges from their first document. MinHash groups give candidate pairs, each verified against
 * the two full signatures (read by range); only pairs whose estimated Jaccard reaches the
 * threshold become edges. Returns the number of edges written.
 */
export async function runPartition(o: PartitionOptions): Promise<{ edges: number; records: number }> {
  const headers: TaskFileHeader[] = [];
  const recs: Rec[] = [];
  for (let t = 0; t < o.tasks; t++) {
    const key = dedupKeys.taskFile(o.work, o.barrier, t);
    const h = await readTaskHeader(o.store, key);
    if (h.partitions <= o.partition) throw new Error(`${key} has ${h.partitions} partitions; partition ${o.partition} does not exist`);
    headers.push(h);
    const r = await readPartitionRecords(o.store, key, h, o.partition);
    for (let at = 0; at < r.length; at += h.recWords) recs.push({ task: t, idx: r[at + h.keyWords]!, ord: r[at + h.keyWords + 1]!, at, recs: r });
  }
  const keyWords = o.config.kind === "exact" ? 4 : 2;
  const cmpKey = (a: Rec, b: Rec) => {
    for (let i = 0; i < keyWords; i++) {
      const d = a.recs[a.at + i]! - b.recs[b.at + i]!;
      if (d !== 0) return d;
    }
    return 0;
  };
  recs.sort((a, b) => cmpKey(a, b) || a.task - b.task || a.ord - b.ord);

  const edges = new U32List();
  const groups: Rec[][] = [];
  for (let i = 0; i < recs.length; ) {
    let j = i + 1;
    while (j < recs.length && cmpKey(recs[i]!, recs[j]!) === 0) j++;
    if (j - i > 1) groups.push(recs.slice(i, j));
    i = j;
  }

  if (o.config.kind === "exact") {
    for (const g of groups) for (const m of g.slice(1)) pushEdge(edges, g[0]!, m, 1);
  } else {
    const hasher = new MinHasher(o.config.minhash);
    const sigs = await loadSignatures(o, headers, groups);
    const seen = new Set<string>();
    for (const g of groups) {
      for (let j = 1; j < g.length; j++) {
        const b = g[j]!;
        for (let i = 0; i < Math.min(j, MAX_COMPARE); i++) {
          const a = g[i]!;
          if (a.task === b.task && a.ord === b.ord) continue;
          const pair = `${a.task}:${a.idx}:${b.task}:${b.idx}`;
          if (seen.has(pair)) continue;
          seen.add(pair);
          const jac = hasher.estimateJaccard(sigs.get(`${a.task}:${a.idx}`)!, sigs.get(`${b.task}:${b.idx}`)!);
          if (jac >= o.config.threshold) pushEdge(edges, a, b, jac);
        }
      }
    }
  }
  await o.store.put(dedupKeys.edges(o.work, o.barrier, o.partition), Buffer.from(edges.view().buffer, 0, edges.length * 4));
  return { edges: edges.length / EDGE_WORDS, records: recs.length };
}

const f32 = new Float32Array(1);
const f32w = new Uint32Array(f32.buffer);

function pushEdge(edges: U32List, a: Rec, b: Rec, jac: number): void {
  f32[0] = jac;
  edges.push(a.task, a.idx, a.ord, b.task, b.idx, b.ord, f32w[0]!);
}

export function edgeJaccard(w: number): number {
  f32w[0] = w;
  return f32[0]!;
}

/** Signatures of every document in a multi-member group, read by range from their task files. */
async function loadSignatures(o: PartitionOptions, headers: TaskFileHeader[], groups: Rec[][]): Promise<Map<string, Uint32Array>> {
  const byTask = new Map<number, number[]>();
  for (const g of groups) for (const r of g) (byTask.get(r.task) ?? byTask.set(r.task, []).get(r.task)!).push(r.idx);
  const out = new Map<string, Uint32Array>();
  await Promise.all(
    [...byTask].map(async ([t, idxs]) => {
      const docs = await readDocRecords(o.store, dedupKeys.taskFile(o.work, o.barrier, t), headers[t]!, idxs);
      for (const [idx, d] of docs) out.set(`${t}:${idx}`, d.sig);
    }),
  );
  return out;
}
