import type { Manifest } from "../dataset.js";
import type { DatasetInfo } from "./plan.js";

/** Planner input from a manifest: totals summed from the shard list (O(shards), no shard reads). */
export function datasetInfoFromManifest(key: string, m: Pick<Manifest, "dataset" | "fingerprint" | "tokenizer" | "shards">): DatasetInfo {
  let tokens = 0;
  let rows = 0;
  for (const s of m.shards) {
    tokens += s.tokens;
    rows += s.rows;
  }
  return { key, name: m.dataset, fingerprint: m.fingerprint, tokenizer: m.tokenizer.id, tokens, rows, shards: m.shards.length };
}
