import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePipeline } from "@tokenmill/domain";
import { tableFromIPC } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { runTask } from "../run-task.js";
import { createSteps } from "../steps/registry.js";
import { chunked, jsonl, MemStore } from "../test-helpers.js";
import { decodeArtifact, encodeArtifact } from "./artifact.js";
import { DEFAULT_TRAIN_CONFIG, loadClassifier, rocAuc, trainClassifier } from "./model.js";
import { listClassifiers, loadClassifierBytes, readExamples, trainAndStoreClassifier } from "./store.js";

const LABELS = join(import.meta.dirname, "../../../../test/fixtures/data/dedup_quality/dclm_human_quality_labels.jsonl.gz");
const PYTHON = join(import.meta.dirname, "../../../../.venv/bin/python");
/** The fixtures folder as the one root training data may come from. */
const INPUT = { policy: { fileRoots: [join(import.meta.dirname, "../../../../test/fixtures")], httpAllow: [] } };
const examples = async () => (await readExamples(LABELS, {}, "meta.label", undefined, INPUT)).examples;

describe("quality classifier (fastText in WebAssembly)", () => {
  it("beats the majority baseline on held-out DCLM human labels", async () => {
    const ex = await examples();
    expect(ex).toHaveLength(499);
    const r = await trainClassifier(ex, { ...DEFAULT_TRAIN_CONFIG, positive_label: "1" });
    const m = r.metrics;
    console.log(`held-out (seed 1, 20%): n=${m.holdout_examples} accuracy=${m.accuracy} baseline=${m.baseline_accuracy} auc=${m.auc} (train n=${m.train_examples}, model ${r.bytes.byteLength} bytes)`);
    expect(m.train_examples + m.holdout_examples).toBe(499);
    expect(m.holdout_examples).toBeGreaterThan(70);
    expect(m.auc!).toBeGreaterThan(0.8);
    expect(m.accuracy).toBeGreaterThan(m.baseline_accuracy + 0.1);
  });

  it("gives identical bytes (and version) for identical inputs; the artifact round-trips", async () => {
    const ex = (await examples()).slice(0, 120);
    const cfg = { ...DEFAULT_TRAIN_CONFIG, positive_label: "1", epochs: 3, buckets: 1 << 12 };
    const a = await trainClassifier(ex, cfg);
    const b = await trainClassifier(ex, cfg);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(a.version).toBe(b.version);
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    const { header, payload } = decodeArtifact(a.bytes);
    expect(header).toMatchObject({ format_version: 1, engine: "fasttext", buckets: 4096, dim: 8, labels: ["0", "1"], ngram: { word_ngrams: 2, lowercase: true } });
    const { format_version: _f, payload_bytes: _b, payload_sha256: _s, ...rest } = header;
    expect(Buffer.from(encodeArtifact(rest, payload)).equals(Buffer.from(a.bytes))).toBe(true);
    const corrupt = new Uint8Array(a.bytes);
    corrupt[corrupt.length - 1]! ^= 1;
    expect(() => decodeArtifact(corrupt)).toThrow(/corrupt/);
    const c = await trainClassifier(ex, { ...cfg, seed: 2 });
    expect(c.version).not.toBe(a.version);
  });

  it("computes AUC with ties", () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(rocAuc([0.5, 0.5], [false, true])).toBe(0.5);
    expect(rocAuc([0.5], [true])).toBeNull();
  });

  it("quality_classifier scores, filters on the threshold and writes a float32 column", async () => {
    const store = new MemStore();
    const meta = await trainAndStoreClassifier(store, {
      name: "dclm-small",
      uri: LABELS,
      label_field: "meta.label",
      config: { positive_label: "1", epochs: 10, buckets: 1 << 14 },
      input: INPUT,
    });
    expect((await listClassifiers(store)).map((m) => m.version)).toEqual([meta.version]);
    expect(store.objects.has(`classifiers/dclm-small/${meta.version}/model.bin`)).toBe(true);
    expect((await loadClassifierBytes("dclm-small", store)).ref).toBe(`dclm-small@${meta.version}`);

    const ex = (await examples()).slice(0, 60);
    const model = await loadClassifier((await loadClassifierBytes(`dclm-small@${meta.version}`, store)).bytes);
    const scores = ex.map((e) => Math.fround(model.score(e.text)));
    model.dispose();
    const threshold = 0.5;
    const spec = parsePipeline({
      version: 1,
      name: "q",
      steps: [{ step: "quality_classifier", model: `dclm-small@${meta.version}`, threshold, field: "dclm_score" }, { step: "tokenize" }],
      output: { keep_text: false },
    });
    const input = chunked(jsonl(...ex.map((e) => ({ id: e.id, text: e.text }))));
    const r = await runTask({ input, uri: "file:///x.jsonl", source: "t", taskIndex: 0, spec, fingerprint: "fp", store, prefix: "ds/" });
    const expectKept = scores.filter((s) => s >= threshold).length;
    expect(r.docs_kept).toBe(expectKept);
    expect(r.steps[1]).toMatchObject({ step: "quality_classifier", docs_in: 60, docs_out: expectKept, dropped: { "quality_classifier:below_threshold": 60 - expectKept } });
    expect(expectKept).toBeGreaterThan(0);
    expect(expectKept).toBeLessThan(60);
    const table = tableFromIPC(store.objects.get(`ds/${r.shards[0]!.file}`)!);
    const col = table.schema.fields.find((f) => f.name === "dclm_score")!;
    expect(String(col.type)).toBe("Float32");
    expect(table.schema.fields.map((f) => f.name)).toEqual(["doc_id", "tokens", "num_tokens", "meta", "dclm_score"]);
    const byId = new Map(ex.map((e, i) => [e.id, scores[i]!]));
    for (let i = 0; i < table.numRows; i++) {
      const id = table.getChild("doc_id")!.get(i) as string;
      const s = table.getChild("dclm_score")!.get(i) as number;
      expect(s).toBe(byId.get(id));
      expect(s).toBeGreaterThanOrEqual(threshold);
      expect(JSON.parse(table.getChild("meta")!.get(i) as string).fields.dclm_score).toBe(s);
    }
  });

  it("local mode: the step takes a model.bin path; an empty model or a reserved field is an error", async () => {
    const ex = (await examples()).slice(0, 80);
    const r = await trainClassifier(ex, { ...DEFAULT_TRAIN_CONFIG, positive_label: "1", buckets: 1 << 12 });
    const dir = await mkdtemp(join(tmpdir(), "tm-clf-"));
    try {
      const path = join(dir, "model.bin");
      await writeFile(path, r.bytes);
      const spec = (params: Record<string, unknown>) =>
        parsePipeline({ version: 1, name: "q", steps: [{ step: "quality_classifier", ...params }, { step: "tokenize" }] });
      const [step] = await createSteps(spec({ model: path, threshold: 0 }));
      const out = await step!.processBatch(ex.slice(0, 5).map((e, i) => ({ doc_id: e.id, text: e.text, line: i + 1, byte_offset: 0, fields: {} })));
      expect(out.kept).toHaveLength(5);
      for (const d of out.kept) expect(d.fields.quality_score as number).toBeGreaterThan(0);
      const [strict] = await createSteps(spec({ model: `file://${path}`, threshold: 1 }));
      const dropped = (await strict!.processBatch([{ doc_id: "a", text: ex[0]!.text, line: 1, byte_offset: 0, fields: {} }])).dropped[0]!;
      expect(dropped.reason).toBe("quality_classifier:below_threshold");
      expect(dropped.detail).toMatch(/^quality_score 0\.\d+ < 1 \(/);
      expect(() => spec({})).toThrow(/steps\[0\]\.model: is required/);
      await expect(createSteps(spec({ model: path, field: "tokens" }))).rejects.toThrow(/other than the shard columns/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(existsSync(PYTHON))("pyarrow reads the score column as float", async () => {
    const store = new MemStore();
    const ex = (await examples()).slice(0, 30);
    const r = await trainClassifier(ex, { ...DEFAULT_TRAIN_CONFIG, positive_label: "1", buckets: 1 << 12 });
    const dir = await mkdtemp(join(tmpdir(), "tm-clf-"));
    try {
      await writeFile(join(dir, "model.bin"), r.bytes);
      const spec = parsePipeline({ version: 1, name: "q", steps: [{ step: "quality_classifier", model: join(dir, "model.bin"), threshold: 0 }, { step: "tokenize" }] });
      const t = await runTask({ input: chunked(jsonl(...ex.map((e) => ({ id: e.id, text: e.text })))), uri: "file:///x.jsonl", source: "t", taskIndex: 0, spec, fingerprint: "fp", store, prefix: "" });
      const shard = join(dir, t.shards[0]!.file);
      await writeFile(shard, store.objects.get(t.shards[0]!.file)!);
      const py = "import sys, pyarrow.ipc as ipc; t = ipc.open_file(sys.argv[1]).read_all(); c = t.column('quality_score'); print(c.type, len(c), min(c.to_pylist()) >= 0)";
      expect(execFileSync(PYTHON, ["-c", py, shard]).toString().trim()).toBe("float 30 True");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
