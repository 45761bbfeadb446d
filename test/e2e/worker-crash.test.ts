import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parsePipeline } from "@tokenmill/domain";
import { curateLocal } from "@tokenmill/curation";
import { sampleLines } from "../support/samples.js";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

const ROOT = resolve(import.meta.dirname, "../..");
const pipeline = { version: 1, name: "crash", steps: [{ step: "normalize" }, { step: "length", min_chars: 20 }, { step: "tokenize" }] };

let stack: Stack;
let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  stack = await startStack({ store: "file" });
  // One large input (the samples repeated) so the task is still running when its worker is killed,
  // plus a small one that must not be processed twice.
  dir = await mkdtemp(join(tmpdir(), "tokenmill-crash-"));
  const lines = await sampleLines();
  // About 32 MB: several seconds of work even for a fast worker, so the kill lands inside the task.
  const big: string[] = [];
  let size = 0;
  for (let copy = 0; size < 32e6; copy++) {
    for (const l of lines) {
      big.push(JSON.stringify({ ...JSON.parse(l), id: `copy${copy}-${big.length}` }));
      size += big.at(-1)!.length + 1;
    }
  }
  await writeFile(join(dir, "a-big.jsonl"), `${big.join("\n")}\n`);
  await writeFile(join(dir, "b-small.jsonl"), `${lines.slice(0, 50).join("\n")}\n`);
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

it("a worker killed mid-task: another finishes the run, nothing lost or duplicated", async () => {
  const auth = { authorization: `Bearer ${stack.admin}` };
  expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth, payload: { name: "crashy", uri: `file://${dir}` } })).statusCode).toBe(201);
  expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth, payload: pipeline })).statusCode).toBe(201);

  child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "workers/curator/src/main.ts")], {
    env: { ...process.env, ...stack.workerEnv, LOCK_DURATION_MS: "3000", STALLED_INTERVAL_MS: "1000", WORKER_ID: "doomed" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth, payload: { source: "crashy", pipeline: "crash" } });
  const runId = started.json().id;

  // Wait until the doomed worker is inside the big task with some progress written, freeze it at
  // once (SIGSTOP: it can write nothing more), check that the task is still unfinished, then kill it.
  const show = (t: unknown) => JSON.stringify(t, (_k, v) => (typeof v === "bigint" ? Number(v) : v));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const t = await stack.prisma.curationTask.findFirst({ where: { runId, index: 0 } });
    if (t?.status === "running" && t.workerId === "doomed" && t.bytesDone > 0n) break;
    if (Date.now() > deadline || (t && t.status !== "pending" && t.status !== "running")) throw new Error(`task never seen running on the doomed worker: ${show(t)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGSTOP");
  const frozen = await stack.prisma.curationTask.findFirstOrThrow({ where: { runId, index: 0 } });
  expect(frozen.status, `the task finished before its worker was frozen: ${show(frozen)}`).toBe("running");
  expect(frozen.bytesDone).toBeLessThan(frozen.bytes);
  child.kill("SIGKILL");
  await new Promise((r) => child!.once("exit", r));
  child = undefined;

  await stack.startWorker({ lockDurationMs: 3000, stalledIntervalMs: 1000 });
  const run = await waitForRun(stack, runId, 180_000);
  expect(run.status, JSON.stringify(run)).toBe("succeeded");

  const tasks = await stack.prisma.curationTask.findMany({ where: { runId }, orderBy: { index: "asc" } });
  expect(tasks[0]!.attempts).toBeGreaterThanOrEqual(2);
  expect(tasks[0]!.workerId).not.toBe("doomed");
  expect(tasks.every((t) => t.status === "succeeded")).toBe(true);

  // The service's output equals an uninterrupted local run of the same pipeline over the same files.
  const out = await mkdtemp(join(tmpdir(), "tokenmill-crash-ref-"));
  const ref = await curateLocal({ spec: parsePipeline(pipeline), inputs: [dir], outDir: out, sourceName: "crashy" });
  expect(run.fingerprint).toBe(ref.manifest.fingerprint);
  expect(run.totals.docs_in).toBe(ref.stats.docs_in);
  expect(run.totals.docs_kept).toBe(ref.stats.docs_kept);
  const shards = (await stack.app.inject({ method: "GET", url: `/dataset-versions/${run.dataset_version_id}/shards`, headers: auth })).json().items;
  expect(shards.map((s: any) => s.sha256)).toEqual(ref.manifest.shards.map((s) => s.sha256));
  await rm(out, { recursive: true, force: true });
});
