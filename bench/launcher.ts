/**
 * Launcher and runs: (1) progress ingestion — trainers' reports POSTed over HTTP to a listening API
 * on real PostgreSQL, R runs in parallel, C requests in flight; prints reports/s and latency
 * percentiles as the client sees them (client and server share this machine's cores). (2) dispatch
 * latency on the local backend — POST /experiments/{id}/runs → trainer process spawned (run.started_at)
 * → trainer's own `start` log line (torch imported, data and model ready).
 *   node --import tsx bench/launcher.ts [reports] [concurrency] [runs]   (default 20000 64 16)
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { hashApiToken } from "@tokenmill/domain";
import { startStack } from "../test/support/stack.js";
import { experiment, startLauncher, TINY, waitRun, ended } from "../test/launcher/support.js";

process.env.TOKENMILL_TEST_RUN ??= `bench_${Date.now()}`;
const [N = 20_000, C = 64, R = 16] = process.argv.slice(2).map(Number);
const stack = await startStack();
const url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
const port = Number(new URL(url).port);
const auth = { authorization: `Bearer ${stack.admin}` };
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, PostgreSQL + API + client on this machine`);

// -- (2) dispatch latency first (the experiment's curation is also the ingestion test's fixture) ----
const exp = await experiment(stack, "bench");
const runsDir = await mkdtemp(join(tmpdir(), "tokenmill-bench-runs-"));
const launcher = await startLauncher(stack, url, runsDir);
const spawnMs: number[] = [];
const startMs: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = Date.now();
  const res = await stack.app.inject({ method: "POST", url: `/experiments/${exp}/runs`, headers: auth, payload: { backend: "local", overrides: { ...TINY, max_steps: 1 } } });
  const run = await waitRun(stack, res.json().id, ended);
  const log = readFileSync(join(run.work_dir, "train.log.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const start = log.find((e) => e.event === "start");
  spawnMs.push(Date.parse(run.events.find((e: any) => e.status === "running").at) - t0);
  startMs.push(start.ts * 1000 - t0);
}
await launcher.close(true);
await rm(runsDir, { recursive: true, force: true });
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`dispatch (local backend, 3 runs, median): submit → trainer process running ${med(spawnMs)} ms; submit → trainer's start line ${med(startMs)} ms (runs: ${startMs.map(Math.round).join(", ")} ms)`);

// -- (1) progress ingestion ------------------------------------------------------------------------
const mixtureId = (await stack.prisma.experimentMixture.findFirstOrThrow({ where: { experimentId: exp } })).mixtureId;
const runs: { id: string; token: string }[] = [];
for (let r = 0; r < R; r++) {
  const token = `tm_bench_${r}_${Math.random().toString(36).slice(2)}`;
  const row = await stack.prisma.trainingRun.create({ data: { experimentId: exp, stage: "pretrain", mixtureId, planFingerprint: "bench", backend: "local", resources: {}, retry: {}, overrides: {}, status: "running", tokenHash: hashApiToken(token) } });
  runs.push({ id: row.id, token });
}
// The load generator runs in a worker thread: its own event loop, so client work does not steal the
// API's (both still share this machine's cores with PostgreSQL).
const CLIENT = `
const { workerData, parentPort } = require("node:worker_threads");
const { Agent, request } = require("node:http");
const { port, runs, C, n, offset } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: C });
function post(i) {
  const run = runs[i % runs.length];
  const step = Math.floor(i / runs.length) + 1;
  const body = JSON.stringify({ step, tokens_consumed: { web: step * 96, code: step * 32 }, loss: 3.2, lr: 1e-3, tokens_per_s: 1e5, mfu: 0.4 });
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/runs/" + run.id + "/progress", agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: "Bearer " + run.token, "idempotency-key": run.id + ":" + step } },
      (res) => { res.resume(); res.on("end", () => res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error("HTTP " + res.statusCode))); });
    req.on("error", reject);
    req.end(body);
  });
}
(async () => {
  const lat = new Array(n);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: C }, async () => { for (let i = next++; i < n; i = next++) lat[i] = await post(offset + i); }));
  parentPort.postMessage({ wall: performance.now() - t0, lat });
  agent.destroy();
})().catch((e) => { throw e; });
`;
async function load(n: number, offset: number): Promise<{ wall: number; lat: number[] }> {
  const w = new Worker(CLIENT, { eval: true, workerData: { port, runs, C, n, offset } });
  const res = await new Promise<{ wall: number; lat: number[] }>((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
  await w.terminate();
  return { wall: res.wall, lat: res.lat.sort((a, b) => a - b) };
}
const warm = Math.min(2000, N / 5);
await load(warm, 0); // warm-up: JIT, connection pools, plan cache
const { wall, lat } = await load(N, warm);
const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!.toFixed(2);
console.log(`progress ingestion: ${N} reports, ${R} runs, ${C} in flight: ${Math.round(N / (wall / 1000))} reports/s; latency p50 ${pct(50)} ms, p90 ${pct(90)} ms, p99 ${pct(99)} ms, max ${lat.at(-1)!.toFixed(2)} ms`);
const rows = await stack.prisma.runProgress.count();
console.log(`run_progress rows: ${rows}`);
await stack.close();
process.exit(0);
