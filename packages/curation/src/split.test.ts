import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { parsePipeline, type PipelineSpec } from "@tokenmill/domain";
import { tableFromIPC } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curateLocal } from "./local.js";

const ROOT = join(import.meta.dirname, "../../..");
const SAMPLES = join(ROOT, "data/samples");
const NAMES = ["c4_redpajama_cc_samples", "openstax_prealgebra_algebra_first100", "thealgorithms_python_first200", "wikitext2_articles_first60"];

// The steps that keep state across documents (exact and fuzzy dedup barriers), a filter and a rewrite.
const STEPS = [
  { step: "normalize" },
  { step: "length", min_words: 20 },
  { step: "pii" },
  { step: "exact_dedup" },
  { step: "minhash_dedup", buckets: 20, hashes_per_bucket: 5 },
  { step: "tokenize", tokenizer: "llama3" },
];
const spec = (output: Record<string, unknown> = {}): PipelineSpec => parsePipeline({ version: 1, name: "split", steps: STEPS, output });

/** Writes a JSONL.gz file as Parquet with pyarrow, in row groups of 64 rows. */
const WRITE_PARQUET = `
import gzip, json, sys
import pyarrow as pa, pyarrow.parquet as pq
src, out = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in gzip.open(src, "rb").read().splitlines() if l.strip()]
pq.write_table(pa.Table.from_pylist(rows), out, row_group_size=64, compression="zstd")
`;
// MATH test problems (real text: test/fixtures/data/PROVENANCE.md).
const MATH = join(ROOT, "test/fixtures/data/math/math_test_5000.jsonl.gz");
const LICENCES = join(ROOT, "test/fixtures/data/dedup_quality/license_texts_near_dups.jsonl.gz");

let dir: string;
let whole: Awaited<ReturnType<typeof curateLocal>>;
let split: Awaited<ReturnType<typeof curateLocal>>;
let splitTasks = 0;

/** Every shard row of a dataset version in manifest order: doc id, tokens, text and provenance. */
async function rows(out: string, manifest: { shards: { file: string }[] }) {
  const all: unknown[] = [];
  for (const s of manifest.shards) {
    for (const row of tableFromIPC(await readFile(join(out, s.file)))) {
      const r = row.toJSON();
      all.push([r.doc_id, [...(r.tokens as unknown as Iterable<number>)].join(","), r.text, r.meta]);
    }
  }
  return all;
}

/**
 * Every dropped record, sorted (within a task, read drops and step drops interleave by batch), with
 * the kept duplicate's task position left out of dedup details: task numbers differ by design.
 */
async function dropped(out: string, tasks: number) {
  const all: string[] = [];
  for (let t = 0; t < tasks; t++) {
    const text = gunzipSync(await readFile(join(out, "dropped", `task-${String(t).padStart(5, "0")}.jsonl.gz`))).toString("utf8");
    for (const line of text.split("\n").filter(Boolean)) all.push(line.replace(/ \(task \d+, record \d+\)/, ""));
  }
  return all.sort();
}

describe("inputs split into byte-range and row-group tasks", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "split-"));
    // One plain JSONL of every sample, with lines a reader drops, blank and CRLF lines mixed in,
    // and no newline at the end; and a Parquet file of MATH problems in row groups of 64.
    const lines: string[] = [];
    for (const name of NAMES) {
      const docs = gunzipSync(await readFile(join(SAMPLES, `${name}.jsonl.gz`))).toString("utf8").split("\n").filter(Boolean);
      docs.forEach((d, i) => {
        lines.push(i % 17 === 5 ? `${d}\r` : d);
        if (i % 23 === 0) lines.push("");
        if (i % 41 === 7) lines.push('{"id": "broken", "text": "unterminated');
        if (i % 53 === 9) lines.push('{"id": "no-text"}');
      });
      // Exact duplicates far from their originals: every 10th document again at the end.
      lines.push(...docs.filter((_, i) => i % 10 === 3));
    }
    // Near-duplicate licence texts, for the MinHash step.
    lines.push(...gunzipSync(await readFile(LICENCES)).toString("utf8").split("\n").filter(Boolean));
    await writeFile(join(dir, "samples.jsonl"), lines.join("\n"));
    await promisify(execFile)(join(ROOT, ".venv/bin/python"), ["-c", WRITE_PARQUET, MATH, join(dir, "math.parquet")]);
    const inputs = [join(dir, "samples.jsonl"), join(dir, "math.parquet")];
    whole = await curateLocal({ inputs, outDir: join(dir, "whole"), spec: spec() });
    split = await curateLocal({ inputs, outDir: join(dir, "split"), spec: spec({ split_bytes: 200_000 }) });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("splits both files into several tasks", async () => {
    expect(await readdir(join(dir, "whole", "dropped"))).toHaveLength(2);
    // 5 MB of JSONL in 200 kB ranges, and the Parquet file's row groups in runs of about 200 kB.
    splitTasks = (await readdir(join(dir, "split", "dropped"))).length;
    expect(splitTasks).toBeGreaterThan(25);
    const parquetShards = split.manifest.shards.filter((s) => Number(s.file.slice(6, 11)) > 25);
    expect(parquetShards.length).toBeGreaterThan(1);
  });

  it("keeps the same documents, in the same order, with the same tokens and whole-file provenance", async () => {
    const a = await rows(join(dir, "whole"), whole.manifest);
    const b = await rows(join(dir, "split"), split.manifest);
    expect(a.length).toBeGreaterThan(3000);
    expect(b).toEqual(a);
    expect(split.manifest.totals.tokens).toBe(whole.manifest.totals.tokens);
  });

  it("drops the same documents for the same reasons at the same lines, offsets and rows", async () => {
    const key = (s: typeof whole.stats) => ({ docs_in: s.docs_in, docs_kept: s.docs_kept, tokens_kept: s.tokens_kept, dropped: s.dropped_total, steps: s.steps, issues: s.input_issues });
    expect(key(split.stats)).toEqual(key(whole.stats));
    expect(whole.stats.dropped_total["read:malformed_json"]).toBeGreaterThan(0);
    expect(whole.stats.dropped_total["exact_dedup:duplicate"]).toBeGreaterThan(30);
    expect(whole.stats.dropped_total["minhash_dedup:near_duplicate"]).toBeGreaterThan(5);
    expect(await dropped(join(dir, "split"), splitTasks)).toEqual(await dropped(join(dir, "whole"), 2));
  });
});
