import { afterAll, beforeAll, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parsePipeline } from "@tokenmill/domain";
import { curateLocal } from "@tokenmill/curation";
import { createQueues, type Queues } from "@tokenmill/queues";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

/**
 * A curation run with dedup steps (collect → partition → cluster → final pass → finalize flows)
 * survives its worker process being SIGKILLed again and again: each kill lands inside a job, a new
 * worker takes over once the job's lock expires, and the published version is byte-identical to a
 * fault-free (local) run. Kills follow observed progress (KILL_EVERY jobs completed since the last kill),
 * and a job is never killed a third time, so BullMQ's stall limit (3) is not what is tested here.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const WIKI = join(ROOT, "data/samples/wikitext2_articles_first60.jsonl.gz");
const KILLS = 5;
/** Jobs completed between two kills: spreads the kills over the run's stages (about 26 jobs here). */
const KILL_EVERY = 4;
const SOURCE = "killed";
const pipeline = {
  version: 1,
  name: "kills",
  steps: [{ step: "normalize" }, { step: "length", min_chars: 20 }, { step: "exact_dedup" }, { step: "minhash_dedup" }, { step: "tokenize" }],
};
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let stack: Stack;
let queues: Queues;
let dir: string;
let out: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tokenmill-kills-"));
  out = await mkdtemp(join(tmpdir(), "tokenmill-kills-ref-"));
  const docs = gunzipSync(await readFile(WIKI)).toString().trim().split("\n").map((l) => JSON.parse(l) as { id: string; text: string });
  // Four inputs with exact and near copies across them, so both dedup barriers drop documents.
  for (let f = 0; f < 4; f++) {
    const lines = docs.map((d, i) => JSON.stringify({ id: `f${f}-${d.id}`, text: f % 2 === 1 && i % 3 === 0 ? d.text.replace(/ the /, " a ") : d.text }));
    await writeFile(join(dir, `part-${f}.jsonl`), `${lines.join("\n")}\n`);
  }
  stack = await startStack({ store: "file" });
  queues = createQueues({ redisUrl: stack.redisUrl, prefix: stack.queuePrefix });
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await queues?.close();
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
  await rm(out, { recursive: true, force: true });
});

function spawnWorker(n: number): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", join(ROOT, "workers/curator/src/main.ts")], {
    env: { ...process.env, ...stack.workerEnv, LOCK_DURATION_MS: "3000", STALLED_INTERVAL_MS: "1000", WORKER_ID: `killable-${n}` },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function runStatus(runId: string): Promise<string> {
  return (await stack.prisma.curationRun.findUniqueOrThrow({ where: { id: runId }, select: { status: true } })).status;
}

it(`a dedup run survives ${KILLS} SIGKILLs of its worker with output identical to a fault-free run`, async () => {
  const auth = { authorization: `Bearer ${stack.admin}` };
  expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth, payload: { name: SOURCE, uri: `file://${dir}` } })).statusCode).toBe(201);
  expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth, payload: pipeline })).statusCode).toBe(201);
  const ref = await curateLocal({ spec: parsePipeline(pipeline), inputs: [dir], outDir: out, sourceName: SOURCE });

  let spawned = 0;
  child = spawnWorker(spawned++);
  const runId = (await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth, payload: { source: SOURCE, pipeline: pipeline.name } })).json().id;

  let kills = 0;
  let completedAtKill = 0;
  const killed: string[] = [];
  while (kills < KILLS) {
    // Wait for progress since the last kill (jobs completed) and a job running now that has not
    // been killed twice already; give up killing once the run ends.
    const deadline = Date.now() + 180_000;
    let target: string | undefined;
    for (;;) {
      if (!["queued", "planning", "running"].includes(await runStatus(runId))) break;
      const completed = (await queues.curation.getJobCounts("completed")).completed ?? 0;
      const active = await queues.curation.getJobs(["active"]);
      if (completed >= completedAtKill + KILL_EVERY && active.length > 0 && active.every((j) => (j.stalledCounter ?? 0) < 2)) {
        completedAtKill = completed;
        target = active.map((j) => j.name).join(",");
        break;
      }
      if (Date.now() > deadline) throw new Error(`no progress within 180 s after ${kills} kill(s)`);
      await new Promise((r) => setTimeout(r, 25));
    }
    if (!target) break;
    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    kills += 1;
    killed.push(target);
    child = spawnWorker(spawned++);
  }

  const run = await waitForRun(stack, runId, 300_000);
  expect(run.status, JSON.stringify(run)).toBe("succeeded");
  console.log(`curation survived ${kills} SIGKILLs (jobs killed: ${killed.join(" | ")})`);
  expect(kills).toBe(KILLS);

  expect(run.fingerprint).toBe(ref.manifest.fingerprint);
  const prefix = `datasets/${SOURCE}/${run.fingerprint}/`;
  const manifest = JSON.parse((await stack.store.get(`${prefix}manifest.json`)).toString());
  expect(manifest.shards).toEqual(ref.manifest.shards);
  expect(JSON.parse((await stack.store.get(`${prefix}stats.json`)).toString())).toEqual(ref.stats);
  for (const s of manifest.shards) expect(sha(await stack.store.get(prefix + s.file))).toBe(sha(await readFile(join(out, s.file))));
  for (const f of await readdir(join(out, "dropped"))) expect(sha(await stack.store.get(`${prefix}dropped/${f}`))).toBe(sha(await readFile(join(out, "dropped", f))));
  const shards = (await stack.app.inject({ method: "GET", url: `/dataset-versions/${run.dataset_version_id}/shards`, headers: auth })).json().items;
  expect(shards.map((s: { sha256: string }) => s.sha256)).toEqual(ref.manifest.shards.map((s) => s.sha256));
});
