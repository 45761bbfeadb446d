import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { sampleFiles } from "../support/samples.js";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

// The curator's entry with PROCESSES=2 (a supervisor and two forked worker processes) on real
// PostgreSQL and Redis: both workers take tasks, the output is byte-identical to one worker's, a
// killed worker is restarted, and SIGTERM stops everything. Input: the first 25 documents of each
// bundled sample (1.2 MB of the 4.4 MB; both curations then take seconds, not half a minute, on a
// loaded 2-core machine), one file each, so the run has 4 tasks to share.
const ROOT = resolve(import.meta.dirname, "../..");
const MAIN = join(ROOT, "workers/curator/src/main.ts");
const pipeline = { version: 1, name: "procs", steps: [{ step: "normalize" }, { step: "length", min_chars: 20 }, { step: "tokenize" }] };

interface Curator {
  proc: ChildProcess;
  /** Every JSON log line of the supervisor and its workers so far. */
  logs: any[];
  exit: Promise<number | null>;
}

function startCurator(env: Record<string, string>): Curator {
  const proc = spawn(process.execPath, ["--import", "tsx", MAIN], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  const logs: any[] = [];
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ msg: line });
    }
  });
  const exit = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, logs, exit };
}

async function until<T>(what: string, get: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let multi: Stack;
let single: Stack;
let curator: Curator | undefined;
let dir: string;

beforeAll(async () => {
  [multi, single] = await Promise.all([startStack({ store: "file" }), startStack({ store: "file" })]);
  dir = await mkdtemp(join(tmpdir(), "tokenmill-procs-"));
  for (const { name, lines } of await sampleFiles()) {
    await writeFile(join(dir, name.replace(/\.gz$/, "")), `${lines.slice(0, 25).join("\n")}\n`);
  }
});
afterAll(async () => {
  curator?.proc.kill("SIGKILL");
  await Promise.allSettled([multi?.close(), single?.close()]);
  await rm(dir, { recursive: true, force: true });
});

async function curate(stack: Stack) {
  const auth = { authorization: `Bearer ${stack.admin}` };
  expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth, payload: { name: "samples", uri: `file://${dir}` } })).statusCode).toBe(201);
  expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth, payload: pipeline })).statusCode).toBe(201);
  const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth, payload: { source: "samples", pipeline: pipeline.name } });
  expect(started.statusCode).toBe(202);
  const run = await waitForRun(stack, started.json().id, 120_000);
  const shards = (await stack.app.inject({ method: "GET", url: `/dataset-versions/${run.dataset_version_id}/shards`, headers: auth })).json().items;
  return { run, shards: shards as { key: string; sha256: string }[] };
}

it("PROCESSES=0 is a start-up error naming the variable", async () => {
  const bad = startCurator({ ...multi.workerEnv, PROCESSES: "0" });
  expect(await bad.exit).toBe(2);
  expect(bad.logs.map((l) => l.msg).join("\n")).toContain('PROCESSES: must be an integer >= 1 or "auto", got "0"');
});

it("two worker processes share a run, match a one-worker run byte for byte, restart when killed, stop on SIGTERM", async () => {
  curator = startCurator({ ...multi.workerEnv, PROCESSES: "2", WORKER_ID: "multi", LOG_LEVEL: "info" });
  const { logs } = curator;
  const readyIds = () => logs.filter((l) => l.msg === "curator worker ready").map((l) => l.worker);
  await until("both worker processes ready", () => readyIds().length >= 2);
  expect(readyIds().sort()).toEqual(["multi-w1", "multi-w2"]);

  // The same curation on a second stack with one in-process worker, as the reference.
  await single.startWorker();
  const [a, b] = await Promise.all([curate(multi), curate(single)]);
  expect(a.run.status, JSON.stringify(a.run)).toBe("succeeded");
  expect(b.run.status, JSON.stringify(b.run)).toBe("succeeded");

  const tasks = await multi.prisma.curationTask.findMany({ where: { runId: a.run.id }, orderBy: { index: "asc" } });
  expect(tasks.length).toBe(4);
  expect(new Set(tasks.map((t) => t.workerId))).toEqual(new Set(["multi-w1", "multi-w2"]));

  expect(a.run.fingerprint).toBe(b.run.fingerprint);
  expect(a.run.steps).toEqual(b.run.steps);
  expect(a.shards.map((s) => [s.key, s.sha256])).toEqual(b.shards.map((s) => [s.key, s.sha256]));
  for (const s of a.shards) expect((await multi.store.get(s.key)).equals(await single.store.get(s.key))).toBe(true);

  // Kill worker 1: the supervisor logs it and starts a new process in its place.
  const started = (slot: number) => logs.filter((l) => l.msg === "worker process started" && l.slot === slot).map((l) => l.childPid as number);
  const [pid1] = started(1);
  const [pid2] = started(2);
  process.kill(pid1!, "SIGKILL");
  const restart = await until("the restart notice", () => logs.find((l) => l.msg?.includes("exited unexpectedly")));
  expect(restart).toMatchObject({ slot: 1, childPid: pid1, signal: "SIGKILL", restartInMs: 1000 });
  const [, newPid1] = await until("a new worker 1", () => started(1).length === 2 && started(1));
  await until("the new worker 1 ready", () => readyIds().filter((id) => id === "multi-w1").length === 2);
  expect(newPid1).not.toBe(pid1);
  expect(alive(newPid1!)).toBe(true);
  expect(started(2)).toEqual([pid2]);

  // SIGTERM: both workers drain and exit, then the supervisor, all with code 0.
  curator.proc.kill("SIGTERM");
  expect(await curator.exit).toBe(0);
  curator = undefined;
  const exited = logs.filter((l) => l.msg === "worker process exited");
  expect(exited.map((l) => [l.slot, l.code]).sort()).toEqual([
    [1, 0],
    [2, 0],
  ]);
  expect(logs.filter((l) => l.msg === "draining: finishing active jobs").map((l) => l.worker).sort()).toEqual(["multi-w1", "multi-w2"]);
  for (const pid of [newPid1!, pid2!]) await until(`worker ${pid} gone`, () => !alive(pid), 10_000);
});
