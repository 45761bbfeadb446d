import type { Manifest } from "@tokenmill/domain";

export interface Fixture {
  manifest: Manifest;
  /** shard file → num_tokens per row */
  docs: Record<string, number[]>;
}

/** Deterministic small datasets: uneven shards, an empty shard, a zero-token row, long documents. */
export function fixtureDatasets(): Record<string, Fixture> {
  let s = 12345;
  const rnd = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n);
  const make = (name: string, shards: number, rowsPer: number, maxTok: number): Fixture => {
    const docs: Record<string, number[]> = {};
    const entries = [];
    for (let i = 0; i < shards; i++) {
      const file = `shard-${String(i).padStart(5, "0")}-0000.arrow`;
      const rows = name === "big" && i === 2 ? [] : Array.from({ length: 1 + rnd(rowsPer) }, () => rnd(maxTok));
      docs[file] = rows;
      entries.push({ file, rows: rows.length, tokens: rows.reduce((a, b) => a + b, 0), bytes: 0, sha256: "0".repeat(64) });
    }
    const tokens = entries.reduce((a, e) => a + e.tokens, 0);
    const rows = entries.reduce((a, e) => a + e.rows, 0);
    return {
      docs,
      manifest: {
        manifest_version: 1, dataset: name, fingerprint: `fp-${name}`, code_version: "fixture",
        tokenizer: { id: "llama3", vocab_sha256: "x", vocab_size: 128256, eos_id: 128001 },
        pipeline: { name: "fixture", hash: "x" }, inputs: [], shards: entries,
        totals: { shards: shards, rows, tokens, bytes: 0 },
      },
    };
  };
  return { big: make("big", 6, 12, 90), small: make("small", 3, 5, 40), tiny: make("tiny", 1, 4, 30) };
}
