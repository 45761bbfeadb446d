/**
 * Progress ingestion alone: trainers' reports POSTed over HTTP keep-alive to a listening API on real
 * PostgreSQL, R runs in parallel, for each in-flight level C the median of K measured passes (each
 * after its own warm-up). Prints reports/s and latency percentiles as the client sees them (client in
 * a worker thread; client, API and PostgreSQL share this machine's cores).
 *   node --import tsx bench/progress-ingest.ts [--reports 20000] [--runs 16] [--inflight 8,16,32,64] [--passes 3] [--client http|raw] [--profile api.cpuprofile]
 * Under contention wall-clock figures move by 2× between runs; the CPU time per report (the API's
 * thread, the rest of this process — mostly the client —, and this database's PostgreSQL backends;
 * read from /proc, Linux only) moves much less and is the better figure for comparing designs.
 * --profile writes a CPU profile of the API's thread during the measured passes only (startup, fixture
 * and warm-ups left out), for Chrome DevTools or speedscope.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { hashApiToken } from "@tokenmill/domain";
import { startStack } from "../test/support/stack.js";
import { experiment } from "../test/launcher/support.js";
import { mixturePlan } from "../services/api/src/routes/training-run-view.js";

const { values: args } = parseArgs({
  options: { reports: { type: "string", default: "20000" }, runs: { type: "string", default: "16" }, inflight: { type: "string", default: "8,16,32,64" }, passes: { type: "string", default: "3" }, profile: { type: "string" }, client: { type: "string", default: "http" } },
});
const N = Number(args.reports);
const R = Number(args.runs);
const levels = args.inflight.split(",").map(Number);
const K = Number(args.passes);
const client = args.client as "http" | "raw";
if (!["http", "raw"].includes(client)) throw new Error(`--client http|raw, not ${client}`);

process.env.TOKENMILL_TEST_RUN ??= `bench_${Date.now()}`;
const stack = await startStack();
const url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
const port = Number(new URL(url).port);
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, PostgreSQL + API + client on this machine`);

const exp = await experiment(stack, "bench");
const mixtureId = (await stack.prisma.experimentMixture.findFirstOrThrow({ where: { experimentId: exp } })).mixtureId;
// The fixture's plan is tiny (1,024 tokens a phase): scaled ×10^6 so that, as in a real run, every
// report moves the ledger. Then the ledger rows, as the first launch of the stage creates them (the
// runs below are made directly).
const tiny = (await stack.prisma.mixture.findUniqueOrThrow({ where: { id: mixtureId } })).plan as unknown as { tokens: number; phases: { tokens: number; components: { tokens: number }[] }[] };
tiny.tokens *= 1e6;
for (const ph of tiny.phases) {
  ph.tokens *= 1e6;
  for (const c of ph.components) c.tokens *= 1e6;
}
await stack.prisma.mixture.update({ where: { id: mixtureId }, data: { plan: tiny as object } });
const plan = await mixturePlan(stack.prisma, mixtureId);
let position = 0;
await stack.prisma.ledgerEntry.createMany({ data: plan.phases.flatMap((ph) => ph.components.map((c) => ({ experimentId: exp, stage: "pretrain", phase: ph.name, source: c.name, position: position++, planned: BigInt(c.tokens) }))) });
const runs: { id: string; token: string }[] = [];
for (let r = 0; r < R; r++) {
  const token = `tm_bench_${r}_${Math.random().toString(36).slice(2)}`;
  const row = await stack.prisma.trainingRun.create({ data: { experimentId: exp, stage: "pretrain", mixtureId, planFingerprint: "bench", backend: "local", resources: {}, retry: {}, overrides: {}, status: "running", tokenHash: hashApiToken(token) } });
  runs.push({ id: row.id, token });
}

// Worker-thread client: its own event loop, so client work does not run on the API's.
// Worker-thread clients: their own event loop, so client work does not run on the API's.
// "http": node:http with a keep-alive agent, as a trainer's client would be (and as earlier figures
// were taken). "raw": one keep-alive socket per in-flight slot writing the same request bytes and
// reading just the status line and Content-Length — about half of node:http's CPU per report
// (measured here), which leaves more of this 2-core machine to the API and PostgreSQL that trainers,
// being elsewhere, would not take.
const BODY = `
function body(step) { return JSON.stringify({ step, tokens_consumed: { web: step * 96, code: step * 32 }, loss: 3.2, lr: 1e-3, tokens_per_s: 1e5, mfu: 0.4 }); }
function target(i) { const run = runs[i % runs.length]; return { run, step: Math.floor(i / runs.length) + 1 }; }
`;
const CLIENTS = {
  http: `
const { workerData, parentPort } = require("node:worker_threads");
const { Agent, request } = require("node:http");
const { port, runs, C, n, offset } = workerData;
${BODY}
const agent = new Agent({ keepAlive: true, maxSockets: C });
function post(i) {
  const { run, step } = target(i);
  const b = body(step);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/runs/" + run.id + "/progress", agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(b), authorization: "Bearer " + run.token, "idempotency-key": run.id + ":" + step } },
      (res) => { res.resume(); res.on("end", () => res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error("HTTP " + res.statusCode))); });
    req.on("error", reject);
    req.end(b);
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
`,
  raw: `
const { workerData, parentPort } = require("node:worker_threads");
const { connect } = require("node:net");
const { port, runs, C, n, offset } = workerData;
${BODY}
function slot() {
  const sock = connect(port, "127.0.0.1");
  sock.setNoDelay(true);
  let buf = "", want = -1, done = null;
  sock.setEncoding("latin1");
  sock.on("data", (d) => {
    buf += d;
    if (want < 0) {
      const end = buf.indexOf("\\r\\n\\r\\n");
      if (end < 0) return;
      const m = /content-length: *(\\d+)/i.exec(buf.slice(0, end));
      want = end + 4 + (m ? Number(m[1]) : 0);
    }
    if (buf.length < want) return;
    const status = buf.slice(9, 12);
    buf = buf.slice(want); want = -1;
    const cb = done; done = null;
    cb(status);
  });
  return (i) => new Promise((resolve, reject) => {
    const { run, step } = target(i);
    const b = body(step);
    const t0 = performance.now();
    done = (status) => status === "200" ? resolve(performance.now() - t0) : reject(new Error("HTTP " + status));
    sock.write("POST /runs/" + run.id + "/progress HTTP/1.1\\r\\nhost: 127.0.0.1\\r\\ncontent-type: application/json\\r\\ncontent-length: " + Buffer.byteLength(b) +
      "\\r\\nauthorization: Bearer " + run.token + "\\r\\nidempotency-key: " + run.id + ":" + step + "\\r\\n\\r\\n" + b, "latin1");
  });
}
(async () => {
  const lat = new Array(n);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: C }, async () => { const post = slot(); for (let i = next++; i < n; i = next++) lat[i] = await post(offset + i); }));
  parentPort.postMessage({ wall: performance.now() - t0, lat });
  process.exit(0);
})().catch((e) => { throw e; });
`,
};
async function load(n: number, offset: number, C: number): Promise<{ perS: number; lat: number[] }> {
  const w = new Worker(CLIENTS[client], { eval: true, workerData: { port, runs, C, n, offset } });
  const res = await new Promise<{ wall: number; lat: number[] }>((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
  await w.terminate();
  return { perS: n / (res.wall / 1000), lat: res.lat.sort((a, b) => a - b) };
}

const inspector = args.profile ? new Session() : null;
if (inspector) {
  inspector.connect();
  await inspector.post("Profiler.enable");
}

/** CPU seconds (user + system) of a /proc stat file; NaN where there is no /proc. */
function cpuOf(statPath: string): number {
  try {
    const f = readFileSync(statPath, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}
const database = new URL(stack.databaseUrl).pathname.slice(1);
async function cpuNow() {
  const backends = await stack.prisma.$queryRaw<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = ${database}`;
  return { api: cpuOf(`/proc/self/task/${process.pid}/stat`), all: cpuOf("/proc/self/stat"), pg: backends.reduce((a, b) => a + cpuOf(`/proc/${b.pid}/stat`), 0) };
}

let offset = 0; // every pass reports new steps, so every report is a fresh insert
const warm = Math.min(2000, N / 5);
const pct = (lat: number[], p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
console.log(`${N} reports per pass, ${R} runs, ${client} client, median of ${K} passes by reports/s`);
console.log("| in flight | reports/s | p50 | p90 | p99 | max | CPU µs/report: API thread · client · PostgreSQL | passes (reports/s, p99) |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const C of levels) {
  const passes: { perS: number; lat: number[]; cpu: { api: number; rest: number; pg: number } }[] = [];
  for (let k = 0; k < K; k++) {
    await load(warm, offset, C);
    offset += warm;
    if (inspector) await inspector.post("Profiler.start");
    const c0 = await cpuNow();
    const res = await load(N, offset, C);
    const c1 = await cpuNow();
    const us = (s: number) => (s * 1e6) / N;
    passes.push({ ...res, cpu: { api: us(c1.api - c0.api), rest: us(c1.all - c0.all - (c1.api - c0.api)), pg: us(c1.pg - c0.pg) } });
    if (inspector) writeFileSync(`${args.profile!.replace(/\.cpuprofile$/, "")}-c${C}-${k}.cpuprofile`, JSON.stringify((await inspector.post("Profiler.stop")).profile));
    offset += N;
  }
  const sorted = [...passes].sort((a, b) => a.perS - b.perS);
  const m = sorted[Math.floor(K / 2)]!;
  const f = (x: number) => `${x.toFixed(1)} ms`;
  const each = passes.map((p) => `${Math.round(p.perS)}, ${pct(p.lat, 99).toFixed(1)}`).join(" · ");
  const cpu = (k: "api" | "rest" | "pg") => Math.round([...passes].map((p) => p.cpu[k]).sort((a, b) => a - b)[Math.floor(K / 2)]!);
  console.log(`| ${C} | ${Math.round(m.perS)} | ${f(pct(m.lat, 50))} | ${f(pct(m.lat, 90))} | ${f(pct(m.lat, 99))} | ${f(m.lat.at(-1)!)} | ${cpu("api")} · ${cpu("rest")} · ${cpu("pg")} | ${each} |`);
}
const rows = await stack.prisma.runProgress.count();
const moved = await stack.prisma.ledgerEntry.aggregate({ where: { experimentId: exp }, _sum: { consumed: true } });
console.log(`run_progress rows: ${rows} (expected ${offset}); ledger consumed: ${moved._sum.consumed} tokens`);
await stack.close();
process.exit(0);
