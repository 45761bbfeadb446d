import { createHash } from "node:crypto";
import type { ObjectStore } from "@tokenmill/storage";
import type { Doc } from "../types.js";
import type { DedupConfig } from "./config.js";
import { MinHasher } from "./minhash.js";
import { TaskFileBuilder } from "./task-file.js";

/** Receives the documents that reach a barrier during a collect pass, then writes the task file. */
export interface DedupCollector {
  readonly barrier: number;
  add(docs: Doc[]): Promise<void>;
  finish(): Promise<{ docs: number }>;
}

/** The 128-bit content hash exact dedup compares, as four u32 words. */
export function contentHash(text: string, normalize: "none" | "whitespace"): Uint32Array {
  const t = normalize === "whitespace" ? text.normalize("NFC").replace(/\s+/gu, " ").trim() : text;
  const d = createHash("sha256").update(t, "utf8").digest();
  return new Uint32Array([d.readUInt32LE(0), d.readUInt32LE(4), d.readUInt32LE(8), d.readUInt32LE(12)]);
}

export interface CollectorOptions {
  store: ObjectStore;
  /** Object key of this task's file for this barrier. */
  key: string;
  barrier: number;
  config: DedupConfig;
  partitions: number;
}

export function createCollector(o: CollectorOptions): DedupCollector {
  const exact = o.config.kind === "exact";
  const hasher = o.config.kind === "minhash" ? new MinHasher(o.config.minhash) : null;
  const file = new TaskFileBuilder(exact ? 0 : 1, o.partitions, hasher ? hasher.sigWords : 0, exact ? 4 : 2);
  return {
    barrier: o.barrier,
    async add(docs) {
      for (const doc of docs) {
        const ordinal = doc.ordinal;
        if (ordinal === undefined) throw new Error(`document ${doc.doc_id} has no ordinal; dedup needs the engine's read order`);
        if (o.config.kind === "exact") {
          const idx = file.addDoc(ordinal, doc.doc_id, null);
          file.addRecord(contentHash(doc.text, o.config.normalize), 0, idx, ordinal);
          continue;
        }
        const sig = hasher!.signature(doc.text);
        const idx = file.addDoc(ordinal, doc.doc_id, sig);
        // A text without words has no shingles: it takes part in no bucket (exact dedup covers it).
        if (!sig) continue;
        const keys = hasher!.bandKeys(sig);
        for (let b = 0; b < keys.length; b += 2) file.addRecord(keys, b, idx, ordinal);
      }
    },
    async finish() {
      await o.store.put(o.key, file.build());
      return { docs: file.count };
    },
  };
}
