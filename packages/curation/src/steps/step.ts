import type { StepConfig } from "@tokenmill/domain";
import type { ObjectStore } from "@tokenmill/storage";
import type { Doc, Drop } from "../types.js";

/** What a step returns for one batch: the survivors in input order and the drops. */
export interface BatchResult {
  kept: Doc[];
  dropped: Drop[];
  /** Step-specific counts for this batch (added into StepStats.counters). */
  counters?: Record<string, number>;
}

/**
 * A pipeline step works on batches, not single documents: tokenization batches into the native
 * thread pool, and later steps (dedup, classifiers) need batches too. Steps may mutate the docs
 * they keep (normalize rewrites `text`, tokenize sets `tokens`).
 */
export interface Step {
  readonly name: string;
  processBatch(docs: Doc[]): Promise<BatchResult>;
}

/** What a step may need beyond its config: the object store holding trained classifiers. */
export interface StepContext {
  store?: Pick<ObjectStore, "get" | "list">;
}

export type StepFactory = (config: StepConfig, context: StepContext) => Step | Promise<Step>;

/** Splits a batch with a per-document verdict: null keeps, otherwise `[rule, detail]`. */
export function filterBatch(step: string, docs: Doc[], verdict: (doc: Doc) => [rule: string, detail: string] | null): BatchResult {
  const kept: Doc[] = [];
  const dropped: Drop[] = [];
  for (const doc of docs) {
    const v = verdict(doc);
    if (v === null) kept.push(doc);
    else dropped.push(dropOf(doc, `${step}:${v[0]}`, v[1]));
  }
  return { kept, dropped };
}

export function dropOf(doc: Doc, reason: string, detail?: string): Drop {
  return { doc_id: doc.doc_id, line: doc.line, byte_offset: doc.byte_offset, reason, detail, text: doc.text };
}
