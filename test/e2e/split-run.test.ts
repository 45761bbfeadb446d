import { afterAll, beforeAll, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { parseInputPart, parsePipeline } from "@tokenmill/domain";
import { curateLocal } from "@tokenmill/curation";
import { sampleLines } from "../support/samples.js";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

const ROOT = resolve(import.meta.dirname, "../..");
const MATH = join(ROOT, "test/fixtures/data/math/math_test_5000.jsonl.gz");
const steps = [{ step: "normalize" }, { step: "length", min_words: 10 }, { step: "pii" }, { step: "tokenize" }];
// 500 kB parts: the 4 MB JSONL becomes 8 or 9 byte-range tasks, the Parquet file a few row-group runs.
const pipeline = { version: 1, name: "split-crash", steps, output: { split_bytes: 500_000 } };
const unsplit = { version: 1, name: "split-crash", steps };

let stack: Stack;
let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  stack = await startStack({ store: "file" });
  dir = await mkdtemp(join(tmpdir(), "tokenmill-split-"));
  const lines = await sampleLines();
  const big: string[] = [];
  for (let copy = 0; big.join("\n").length < 4e6; copy++) {
    for (const l of lines) big.push(big.length % 97 === 5 ? "{not json" : JSON.stringify({ ...JSON.parse(l), id: `copy${copy}-${big.length}` }));
  }
  await writeFile(join(dir, "a-big.jsonl"), big.join("\n")); // no newline at the end
  await promisify(execFile)(join(ROOT, ".venv/bin/python"), [
    "-c",
    `import gzip, json, sys
import pyarrow as pa, pyarrow.parquet as pq
rows = [json.loads(l) for l in gzip.open(sys.argv[1], "rb").read().splitlines() if l.strip()]
pq.write_table(pa.Table.from_pylist(rows), sys.argv[2], row_group_size=500, compression="zstd")`,
    MATH,
    join(dir, "b-math.parquet"),
  ]);
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Doc id, tokens and provenance of every row of a dataset version's shards, in order. */
async function rows(files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    for (const row of tableFromIPC(await readFile(f))) {
      const r = row.toJSON();
      out.push(`${r.doc_id}|${[...(r.tokens as unknown as Iterable<number>)].join(",")}|${r.meta}`);
    }
  }
  return out;
}

it("a split file is processed by many tasks, resumes after a worker is killed mid-file, and equals the unsplit result", async () => {
  const auth = { authorization: `Bearer ${stack.admin}` };
  expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth, payload: { name: "splitty", uri: `file://${dir}` } })).statusCode).toBe(201);
  expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth, payload: pipeline })).statusCode).toBe(201);

  child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "workers/curator/src/main.ts")], {
    env: { ...process.env, ...stack.workerEnv, LOCK_DURATION_MS: "3000", STALLED_INTERVAL_MS: "1000", WORKER_ID: "doomed" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth, payload: { source: "splitty", pipeline: "split-crash" } });
  const runId = started.json().id;

  // Kill the worker once it has finished a part of the big file and is inside another part.
  const deadline = Date.now() + 120_000;
  let inFlight: string | undefined;
  for (;;) {
    const tasks = await stack.prisma.curationTask.findMany({ where: { runId, workerId: "doomed" } });
    const finished = tasks.some((t) => t.status === "succeeded" && t.inputUri.endsWith("a-big.jsonl"));
    inFlight = tasks.find((t) => t.status === "running")?.id;
    if (finished && inFlight) break;
    if (Date.now() > deadline) throw new Error("the doomed worker never got into the big file");
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await new Promise((r) => child!.once("exit", r));
  child = undefined;
  const doneBefore = await stack.prisma.curationTask.findMany({ where: { runId, status: "succeeded" } });
  // The part seen in flight may have finished between the look and the kill; if not, it is redone.
  const interrupted = (await stack.prisma.curationTask.findUniqueOrThrow({ where: { id: inFlight } })).status === "running";

  await stack.startWorker({ lockDurationMs: 3000, stalledIntervalMs: 1000 });
  const run = await waitForRun(stack, runId, 240_000);
  expect(run.status, JSON.stringify(run)).toBe("succeeded");

  const tasks = await stack.prisma.curationTask.findMany({ where: { runId }, orderBy: { index: "asc" } });
  const parts = tasks.map((t) => parseInputPart(t.part));
  expect(parts.filter((p) => p?.kind === "bytes").length).toBeGreaterThanOrEqual(8);
  expect(parts.filter((p) => p?.kind === "row_groups").length).toBeGreaterThan(1);
  expect(run.progress.tasks_total).toBe(tasks.length);
  // Line numbers of every byte range come from the counts of the ranges before it.
  expect(parts.every((p) => p?.kind !== "bytes" || p.lines_before !== undefined)).toBe(true);
  // What finished before the crash was not done again; the part in flight was.
  for (const t of doneBefore) expect(tasks.find((x) => x.id === t.id)!.attempts).toBe(1);
  expect(doneBefore.length).toBeLessThan(tasks.length);
  if (interrupted) expect(tasks.find((t) => t.id === inFlight)!.attempts).toBeGreaterThanOrEqual(2);

  // Byte-identical to an uninterrupted local run with the same split …
  const same = await mkdtemp(join(tmpdir(), "tokenmill-split-ref-"));
  const ref = await curateLocal({ spec: parsePipeline(pipeline), inputs: [dir], outDir: same, sourceName: "splitty" });
  expect(run.fingerprint).toBe(ref.manifest.fingerprint);
  const shards = (await stack.app.inject({ method: "GET", url: `/dataset-versions/${run.dataset_version_id}/shards?limit=1000`, headers: auth })).json().items;
  expect(shards.map((s: any) => s.sha256)).toEqual(ref.manifest.shards.map((s) => s.sha256));
  const manifest = (await stack.app.inject({ method: "GET", url: `/dataset-versions/${run.dataset_version_id}/manifest`, headers: auth })).json();
  expect(manifest.inputs.map((i: any) => i.uri)).toEqual(ref.manifest.inputs.map((i) => i.uri));

  // … and holds the same rows, tokens and provenance as one task per file.
  const whole = await mkdtemp(join(tmpdir(), "tokenmill-split-whole-"));
  const one = await curateLocal({ spec: parsePipeline(unsplit), inputs: [dir], outDir: whole, sourceName: "splitty" });
  expect(one.manifest.shards.length).toBeLessThan(ref.manifest.shards.length);
  expect(run.totals).toEqual({ docs_in: one.stats.docs_in, docs_kept: one.stats.docs_kept, docs_dropped: one.stats.docs_in - one.stats.docs_kept, tokens_kept: one.stats.tokens_kept });
  expect(await rows(ref.manifest.shards.map((s) => join(same, s.file)))).toEqual(await rows(one.manifest.shards.map((s) => join(whole, s.file))));
  // The pii step's counters reach the run view.
  expect(run.steps.find((s: any) => s.step === "pii")?.counters).toEqual(one.stats.steps.find((s) => s.step === "pii")?.counters);
  await rm(same, { recursive: true, force: true });
  await rm(whole, { recursive: true, force: true });
});
