import { createReadStream } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DEFAULT_PIPELINE, parsePipeline, type PipelineSpec, SHARD_METADATA_KEYS } from "@tokenmill/domain";
import { tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { mergeTaskResults } from "./results.js";
import { runTask, type TaskResult } from "./run-task.js";
import { chunked, jsonl, MemStore } from "./test-helpers.js";
import type { TaskProgress } from "./types.js";

const ROOT = join(import.meta.dirname, "../../..");

function run(store: MemStore, input: AsyncIterable<Uint8Array>, uri: string, extra: Partial<Parameters<typeof runTask>[0]> = {}) {
  return runTask({ input, uri, source: "test", taskIndex: 3, spec: DEFAULT_PIPELINE, fingerprint: "fp", store, prefix: "ds/fp/", ...extra });
}

function droppedCount(r: TaskResult): number {
  return r.steps.reduce((n, s) => n + Object.values(s.dropped).reduce((a, b) => a + b, 0), 0);
}

describe("runTask", () => {
  it("conserves documents on every sample and bad file", async () => {
    const files = [
      "data/samples/c4_redpajama_cc_samples.jsonl.gz",
      "data/samples/thealgorithms_python_first200.jsonl.gz",
      ...["malformed.jsonl", "invalid_utf8.jsonl", "missing_text.jsonl", "truncated.jsonl.gz", "empty.jsonl", "special_tokens.jsonl"].map((f) => `test/fixtures/bad/${f}`),
    ];
    const results: TaskResult[] = [];
    for (const f of files) {
      const store = new MemStore();
      const r = await run(store, createReadStream(join(ROOT, f)), `file:///${f}`);
      expect(r.docs_in, f).toBe(r.docs_kept + droppedCount(r));
      const lines = gunzipSync(store.objects.get("ds/fp/dropped/task-00003.jsonl.gz")!).toString().split("\n").filter(Boolean);
      expect(lines.length, f).toBe(droppedCount(r));
      expect(r.shards.reduce((n, s) => n + s.rows, 0), f).toBe(r.docs_kept);
      expect(r.steps.map((s) => s.step)).toEqual(["read", "normalize", "length", "tokenize"]);
      results.push(r);
    }
    const stats = mergeTaskResults("fp", results);
    // samples 50 + 200; malformed 6 lines of which 1 blank; invalid_utf8 3; missing_text 4;
    // truncated 19 whole + 1 partial; empty 0; special_tokens 2
    expect(stats.docs_in).toBe(250 + 5 + 3 + 4 + 20 + 0 + 2);
    expect(stats.docs_in).toBe(stats.docs_kept + Object.values(stats.dropped_total).reduce((a, b) => a + b, 0));
    expect(stats.input_issues.map((i) => i.reason).sort()).toEqual(["empty_file", "truncated"]);
  });

  it("writes shards of batch_rows-row batches, closed at shard_max_tokens, without text when asked", async () => {
    const spec: PipelineSpec = parsePipeline({
      version: 1,
      name: "small",
      steps: [{ step: "tokenize" }],
      output: { batch_rows: 2, shard_max_tokens: 10, keep_text: false },
    });
    const docs = Array.from({ length: 7 }, (_, i) => ({ id: `d${i}`, text: "one two three four", lang: "en" }));
    const store = new MemStore();
    const r = await run(store, chunked(jsonl(...docs)), "file:///in/x.jsonl", { spec });
    // 4 tokens per document: a shard closes at its third document (12 ≥ 10 tokens).
    expect(r.shards.map((s) => [s.file, s.rows, s.tokens])).toEqual([
      ["shard-00003-0000.arrow", 3, 12],
      ["shard-00003-0001.arrow", 3, 12],
      ["shard-00003-0002.arrow", 1, 4],
    ]);
    const bytes = store.objects.get("ds/fp/shard-00003-0000.arrow")!;
    expect(r.shards[0]!.bytes).toBe(bytes.length);
    const table = tableFromIPC(bytes);
    expect(table.batches.map((b) => b.numRows)).toEqual([2, 1]);
    expect(table.schema.fields.map((f) => f.name)).toEqual(["doc_id", "tokens", "num_tokens", "meta"]);
    expect(table.schema.metadata.get(SHARD_METADATA_KEYS.fingerprint)).toBe("fp");
    expect(table.schema.metadata.get(SHARD_METADATA_KEYS.vocabSize)).toBe("128256");
    const row = table.get(1)!.toJSON();
    expect(row.doc_id).toBe("d1");
    expect(JSON.parse(row.meta as string)).toEqual({ source: "test", file: "file:///in/x.jsonl", line: 2, byte_offset: jsonl(docs[0]).length, fields: { lang: "en" } });
    expect([...(row.tokens as unknown as Iterable<number>)]).toEqual([606, 1403, 2380, 3116]);
  });

  it("drops by length and writes capped text heads", async () => {
    const store = new MemStore();
    const r = await run(store, chunked(jsonl({ id: "long", text: "x".repeat(1_000_001) }, { id: "empty", text: "   " })), "y.jsonl");
    expect(r.steps[2]).toEqual({ step: "length", docs_in: 2, docs_out: 0, dropped: { "length:too_long": 1, "length:too_short": 1 } });
    const dropped = gunzipSync(store.objects.get("ds/fp/dropped/task-00003.jsonl.gz")!).toString().trim().split("\n").map((l) => JSON.parse(l));
    expect(dropped.map((d) => [d.doc_id, d.step, d.reason, d.text_head.length])).toEqual([
      ["long", "length", "length:too_long", 1000],
      ["empty", "length", "length:too_short", 0],
    ]);
  });

  it("stops between batches when aborted and reports progress", async () => {
    const docs = Array.from({ length: 50 }, (_, i) => ({ id: i, text: `document number ${i}` }));
    const controller = new AbortController();
    const seen: TaskProgress[] = [];
    const onProgress = (p: TaskProgress) => {
      seen.push(p);
      if (p.docs_in >= 20) controller.abort(new Error("cancelled by test"));
    };
    const store = new MemStore();
    const input = chunked(jsonl(...docs), 16);
    await expect(run(store, input, "z.jsonl", { batchDocs: 10, onProgress, progressIntervalMs: 0, signal: controller.signal })).rejects.toThrow(
      "cancelled by test",
    );
    // One report per batch (batches start small and grow up to batchDocs); the abort after the
    // first report past 20 documents stops the task before the next batch.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.slice(0, -1).every((p) => p.docs_in < 20)).toBe(true);
    expect(seen.at(-1)!.docs_in).toBeGreaterThanOrEqual(20);
    expect(seen.at(-1)!.docs_kept).toBeLessThanOrEqual(30);
    expect(seen.every((p, i) => i === 0 || p.docs_kept - seen[i - 1]!.docs_kept <= 10)).toBe(true);
    expect(store.objects.has("ds/fp/dropped/task-00003.jsonl.gz")).toBe(false);

    const done: TaskProgress[] = [];
    const r = await run(new MemStore(), chunked(jsonl(...docs)), "z.jsonl", { batchDocs: 10, onProgress: (p) => done.push(p) });
    expect(done.at(-1)).toEqual({ bytes_read: jsonl(...docs).length, docs_in: 50, docs_kept: 50, tokens_kept: r.tokens_kept });
  });
});

describe("runTask batches", () => {
  it("gives the same bytes whatever the batch size (batches are sized by time)", async () => {
    const spec = parsePipeline({
      version: 1,
      name: "batches",
      steps: [{ step: "normalize" }, { step: "gopher_repetition" }, { step: "gopher_quality" }, { step: "c4_quality" }, { step: "fineweb_quality" }, { step: "tokenize" }],
    });
    const file = "data/samples/c4_redpajama_cc_samples.jsonl.gz";
    const outputs: { objects: Map<string, string>; result: TaskResult }[] = [];
    for (const batchDocs of [1, 5, 256]) {
      const store = new MemStore();
      const result = await run(store, createReadStream(join(ROOT, file)), `file:///${file}`, { spec, batchDocs });
      const objects = new Map([...store.objects].map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
      outputs.push({ objects, result });
    }
    expect(outputs[0]!.result.docs_kept).toBeGreaterThan(0);
    expect(outputs[0]!.result.docs_kept).toBeLessThan(outputs[0]!.result.docs_in);
    for (const o of outputs.slice(1)) {
      expect(o.result).toEqual(outputs[0]!.result);
      expect([...o.objects.keys()]).toEqual([...outputs[0]!.objects.keys()]);
      for (const [k, v] of o.objects) expect(v === outputs[0]!.objects.get(k), k).toBe(true);
    }
  });
});
