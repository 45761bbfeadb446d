import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parsePipeline } from "@tokenmill/domain";
import { curateLocal } from "@tokenmill/curation";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

const ROOT = resolve(import.meta.dirname, "../..");
const WIKI = join(ROOT, "data/samples/wikitext2_articles_first60.jsonl.gz");
const SOURCE = "dedup-src";
const pipeline = {
  version: 1,
  name: "dedup-e2e",
  steps: [{ step: "normalize" }, { step: "length", min_chars: 20 }, { step: "exact_dedup" }, { step: "minhash_dedup" }, { step: "tokenize" }],
};
const auth = (s: Stack) => ({ authorization: `Bearer ${s.admin}` });
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let dir: string;
let out: string;
let stack: Stack;
let s3Stack: Stack;
let local: Awaited<ReturnType<typeof curateLocal>>;

async function droppedRecords(read: (key: string) => Promise<Buffer>, keys: string[]) {
  const lines = await Promise.all(keys.map(async (k) => gunzipSync(await read(k)).toString().trim().split("\n").filter(Boolean)));
  return lines.flat().map((l) => JSON.parse(l));
}

beforeAll(async () => {
  // Three inputs: the wikitext articles, an exact copy of them (ids prefixed), and near-duplicates
  // (one word in every 40 changed: true Jaccard ≈ 0.78) of the first 20 plus a few unrelated documents.
  dir = await mkdtemp(join(tmpdir(), "tokenmill-dedup-"));
  out = await mkdtemp(join(tmpdir(), "tokenmill-dedup-out-"));
  const docs = gunzipSync(await readFile(WIKI)).toString().trim().split("\n").map((l) => JSON.parse(l) as { id: string; text: string });
  await writeFile(join(dir, "a.jsonl"), docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
  await writeFile(join(dir, "b.jsonl"), docs.map((d) => JSON.stringify({ ...d, id: `copy-${d.id}` })).join("\n") + "\n");
  const near = docs.slice(0, 20).map((d) => ({ id: `near-${d.id}`, text: d.text.split(" ").map((w, i) => (i % 40 === 7 ? `changed${i}` : w)).join(" ") }));
  const other = Array.from({ length: 5 }, (_, i) => ({ id: `other-${i}`, text: `An unrelated document number ${i} about ${["rivers", "stars", "bread", "trains", "moss"][i]} and nothing else.` }));
  await writeFile(join(dir, "c.jsonl"), [...near, ...other].map((d) => JSON.stringify(d)).join("\n") + "\n");
  [stack, s3Stack] = await Promise.all([startStack({ store: "file", worker: true }), startStack({ store: "s3", worker: true })]);
  local = await curateLocal({ inputs: [dir], outDir: out, spec: parsePipeline(pipeline), sourceName: SOURCE });
});

afterAll(async () => {
  await Promise.allSettled([stack?.close(), s3Stack?.close()]);
  await rm(dir, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

describe("dedup steps across tasks", () => {
  it("local mode drops copies and near-duplicates, keeps the first, and conserves every document", async () => {
    const { stats, manifest } = local;
    const steps = Object.fromEntries(stats.steps.map((s) => [s.step, s]));
    expect(steps.exact_dedup!.dropped).toEqual({ "exact_dedup:duplicate": 60 });
    expect(steps.minhash_dedup!.dropped["minhash_dedup:near_duplicate"]).toBeGreaterThanOrEqual(10);
    for (const s of stats.steps) expect(s.docs_in - s.docs_out).toBe(Object.values(s.dropped).reduce((a, b) => a + b, 0));
    stats.steps.slice(1).forEach((s, i) => expect(s.docs_in).toBe(stats.steps[i]!.docs_out));
    expect(stats.docs_in).toBe(145);
    expect(stats.docs_kept).toBe(stats.steps.at(-1)!.docs_out);
    expect(manifest.totals.rows).toBe(stats.docs_kept);

    const dropped = await droppedRecords((k) => readFile(join(out, k)), (await readdir(join(out, "dropped"))).map((f) => `dropped/${f}`));
    const exact = dropped.filter((r) => r.reason === "exact_dedup:duplicate");
    expect(exact.every((r) => r.doc_id.startsWith("copy-") && r.detail.startsWith(`kept doc_id=${r.doc_id.slice(5)} (task 0,`))).toBe(true);
    const near = dropped.filter((r) => r.reason === "minhash_dedup:near_duplicate");
    for (const r of near) {
      expect(r.doc_id).toMatch(/^near-/);
      expect(r.detail).toMatch(new RegExp(`^kept doc_id=${r.doc_id.slice(5)} \\(task 0, record \\d+\\); estimated_jaccard=0\\.\\d{3}$`));
    }
    await expect(readdir(join(out, "_work"))).rejects.toThrow(); // intermediates removed
  });

  it("the worker (collect → partition → cluster → tasks → finalize flows) gives identical shards and stats", async () => {
    expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth(stack), payload: { name: SOURCE, uri: `file://${dir}` } })).statusCode).toBe(201);
    expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(stack), payload: pipeline })).statusCode).toBeLessThan(300);
    const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(stack), payload: { source: SOURCE, pipeline: pipeline.name } });
    expect(started.statusCode).toBe(202);
    const run = await waitForRun(stack, started.json().id, 240_000);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.fingerprint).toBe(local.manifest.fingerprint);
    expect(run.steps).toEqual(local.stats.steps);
    const prefix = `datasets/${SOURCE}/${run.fingerprint}/`;
    const stats = JSON.parse((await stack.store.get(`${prefix}stats.json`)).toString());
    expect(stats).toEqual(local.stats);
    const manifest = JSON.parse((await stack.store.get(`${prefix}manifest.json`)).toString());
    expect(manifest.shards).toEqual(local.manifest.shards);
    for (const s of manifest.shards) expect(sha(await stack.store.get(prefix + s.file))).toBe(sha(await readFile(join(out, s.file))));
    for (const f of await readdir(join(out, "dropped"))) {
      expect(sha(await stack.store.get(`${prefix}dropped/${f}`))).toBe(sha(await readFile(join(out, "dropped", f))));
    }
    expect(await stack.store.list(`${prefix}_work/`)).toEqual([]);
  });

  it("the worker on an S3 store (range reads of the task files) gives the same shards", async () => {
    const s = s3Stack;
    expect((await s.app.inject({ method: "POST", url: "/sources", headers: auth(s), payload: { name: SOURCE, uri: `file://${dir}` } })).statusCode).toBe(201);
    expect((await s.app.inject({ method: "POST", url: "/pipelines", headers: auth(s), payload: pipeline })).statusCode).toBeLessThan(300);
    const started = await s.app.inject({ method: "POST", url: "/curation-runs", headers: auth(s), payload: { source: SOURCE, pipeline: pipeline.name } });
    const run = await waitForRun(s, started.json().id, 240_000);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.steps).toEqual(local.stats.steps);
    const prefix = `datasets/${SOURCE}/${run.fingerprint}/`;
    const manifest = JSON.parse((await s.store.get(`${prefix}manifest.json`)).toString());
    expect(manifest.shards).toEqual(local.manifest.shards);
    expect(await s.store.list(`${prefix}_work/`)).toEqual([]);
  });
});
