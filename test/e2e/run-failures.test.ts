import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pino } from "pino";
import { createQueues, type Queues } from "@tokenmill/queues";
import { DEFAULT_SOURCE_POLICY } from "@tokenmill/storage";
import { checkStalledRuns, noteProgress, startWatchdog, type CuratorDeps } from "@tokenmill/curator";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

/**
 * Every way a curation run can stop moving ends it as `failed` with the reason: a file that can
 * never be read fails it at the first attempt, a job BullMQ fails on its own (stalled more than
 * allowed) fails it through the worker's `failed` event, and the watchdog fails a run that made no
 * progress within its bound.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const WIKI = join(ROOT, "data/samples/wikitext2_articles_first60.jsonl.gz");
const auth = (s: Stack) => ({ authorization: `Bearer ${s.admin}` });
const dedupPipeline = { version: 1, name: "dedup-fail", steps: [{ step: "normalize" }, { step: "exact_dedup" }, { step: "tokenize" }] };
const plainPipeline = { version: 1, name: "plain-fail", steps: [{ step: "normalize" }, { step: "tokenize" }] };

let stack: Stack;
let queues: Queues;
let deps: CuratorDeps;
const dirs: string[] = [];

async function inputDir(files: Record<string, Buffer | string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tokenmill-fail-"));
  dirs.push(dir);
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  return dir;
}

async function startRun(name: string, dir: string, pipeline: { name: string }): Promise<string> {
  expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth(stack), payload: { name, uri: `file://${dir}` } })).statusCode).toBe(201);
  expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(stack), payload: pipeline })).statusCode).toBeLessThan(300);
  const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(stack), payload: { source: name, pipeline: pipeline.name } });
  expect(started.statusCode).toBe(202);
  return started.json().id;
}

beforeAll(async () => {
  stack = await startStack({ store: "file" });
  queues = createQueues({ redisUrl: stack.redisUrl, prefix: stack.queuePrefix });
  deps = { prisma: stack.prisma, store: stack.store, queues, logger: pino({ level: "silent" }), s3: { region: "us-east-1", forcePathStyle: false }, sourcePolicy: DEFAULT_SOURCE_POLICY, workerId: "test-watchdog" };
});

afterAll(async () => {
  await queues?.close();
  await stack?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("terminal job failures end the run", () => {
  it("a file whose bytes are not what its name says fails the run at its first attempt, naming the file", async () => {
    const lines = gunzipSync(await readFile(WIKI)).toString();
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 251).map((b) => (b === 0x7b ? 1 : b)));
    const dir = await inputDir({ "a-good.jsonl": lines, "b-bad.arrow": garbage });
    const worker = await stack.startWorker();
    const runId = await startRun("misnamed", dir, plainPipeline);
    const run = await waitForRun(stack, runId, 120_000);
    await worker.close();
    expect(run.status, JSON.stringify(run)).toBe("failed");
    expect(run.error).toContain(`file://${dir}/b-bad.arrow: named as Arrow IPC, but the file's bytes are binary data`);
    const bad = await stack.prisma.curationTask.findFirstOrThrow({ where: { runId, index: 1 } });
    expect(bad.status).toBe("failed");
    expect(bad.attempts).toBe(1);
    const job = await queues.curation.getJob(`task-${bad.id}`);
    expect(job?.attemptsMade).toBe(1);
    expect(await job?.getState()).toBe("failed");
  });

  it("a dedup-collect job that BullMQ fails for stalling too often fails the run with the reason", async () => {
    const docs = gunzipSync(await readFile(WIKI)).toString().trim().split("\n");
    const dir = await inputDir({ "a.jsonl": docs.slice(0, 20).join("\n"), "b.jsonl": docs.slice(20, 40).join("\n"), "c.jsonl": docs.slice(40).join("\n") });
    const worker = await stack.startWorker();
    // What BullMQ's stalled check does to a job stalled more than maxStalledCount times (after
    // repeated worker crashes, or lock renewals starved): it marks the job to be failed when next
    // fetched. Done here to the last collect job while the first one runs.
    const client = await queues.curation.client;
    let marked: Promise<unknown> | undefined;
    worker.on("active", (job) => {
      if (job.name !== "dedup-collect" || marked) return;
      marked = (async () => {
        const last = await stack.prisma.curationTask.findFirstOrThrow({ where: { runId: job.data.runId, index: 2 } });
        const key = queues.curation.toKey(`dedup-collect-${last.id}-0`);
        expect(await client.hexists(key, "name")).toBe(1);
        await client.hset(key, { defa: "job stalled more than allowable limit" });
      })();
    });
    const runId = await startRun("stalls", dir, dedupPipeline);
    const run = await waitForRun(stack, runId, 120_000);
    await marked;
    await worker.close();
    expect(run.status, JSON.stringify(run)).toBe("failed");
    expect(run.error).toMatch(/^dedup-collect of task 2 \(file:\/\/.*\/c\.jsonl\) failed for good: job stalled more than allowable limit$/);
    expect(await queues.curation.getJob(`dedup-barrier-${runId}-0`).then((j) => j?.getState())).toBe("failed");
  });
});

describe("the watchdog", () => {
  it("spares runs while the queue is busy, fails a run with no progress, then one whose progress stopped", async () => {
    const dir = await inputDir({ "a.jsonl": '{"text": "hello there"}\n' });
    // No worker: the runs stay queued, their plan jobs waiting.
    const stuck = await startRun("idle-1", dir, { ...plainPipeline, name: "plain-idle" });
    const moving = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(stack), payload: { source: "idle-1", pipeline: "plain-idle" } });
    const movingId = moving.json().id as string;
    const bound = 1_500;
    await new Promise((r) => setTimeout(r, bound + 200));
    // Jobs wait in the queue while some run moved within the bound: the queue is busy, not stuck.
    await noteProgress(deps, movingId);
    expect(await checkStalledRuns(deps, { stallTimeoutMs: bound, intervalMs: 500 })).toEqual([]);
    // Nothing left in the queue that could move the first run: it fails; the one that moved does not.
    await queues.curation.drain();
    expect(await checkStalledRuns(deps, { stallTimeoutMs: bound, intervalMs: 500 })).toEqual([stuck]);
    const failed = await stack.prisma.curationRun.findUniqueOrThrow({ where: { id: stuck } });
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^no progress for \d+ s \(RUN_STALL_TIMEOUT_S=2\)/);
    expect((await stack.prisma.curationRun.findUniqueOrThrow({ where: { id: movingId } })).status).toBe("queued");
    // The periodic watchdog fails the second once its last progress is older than the bound.
    const stop = startWatchdog(deps, { stallTimeoutMs: bound, intervalMs: 300 });
    try {
      const deadline = Date.now() + 10 * bound + 30_000;
      for (;;) {
        const run = await stack.prisma.curationRun.findUniqueOrThrow({ where: { id: movingId } });
        if (run.status === "failed") {
          expect(run.error).toMatch(/^no progress for \d+ s/);
          expect(run.finishedAt!.getTime() - Date.now()).toBeLessThan(0);
          break;
        }
        expect(run.status).toBe("queued");
        if (Date.now() > deadline) throw new Error(`run still ${run.status} long after the watchdog's bound`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      stop();
    }
  });
});
