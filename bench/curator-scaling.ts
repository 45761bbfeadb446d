/**
 * End-to-end curation throughput with 1 and 2 curator worker processes (`PROCESSES`).
 *
 *   node --import tsx bench/curator-scaling.ts [--mb 200] [--files 8] [--runs 3] [--processes 1,2] [--data data/samples]
 *
 * Needs PostgreSQL and Redis (as the tests do). Corpus: every *.jsonl.gz under --data (default the
 * bundled data/samples; `--data ../shared/data` for the peer-baseline corpus; eval/ and
 * known_duplicate_pairs are skipped as in bench/curation-steps.ts), repeated in order until it
 * holds --mb MB of UTF-8 text (MB = 10^6 bytes), dealt round-robin into --files JSONL files of
 * about equal size (one task per file), written once under bench/_scratch/ (ignored by git).
 *
 * Each run: a fresh database, queue prefix and store (so no run reuses another's dataset version),
 * the real curator entry (`workers/curator/src/main.ts`) started with PROCESSES=p and waited on
 * until every worker process is ready, then source + pipeline + run through the API (in this
 * process); the clock runs from POST /curation-runs to the run's terminal status (plan, all tasks,
 * finalize). Runs alternate between process counts so that outside load falls on both alike. CPU
 * is the curator processes' own user+system time during the run (/proc), all their threads.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { basename, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { gunzipSync } from "node:zlib";
import { startStack } from "../test/support/stack.js";

const ROOT = resolve(import.meta.dirname, "..");
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const targetMb = Number(args.get("mb") ?? 200);
const nFiles = Number(args.get("files") ?? 8);
const runs = Number(args.get("runs") ?? 3);
const counts = (args.get("processes") ?? "1,2").split(",").map(Number);
const dataDir = resolve(args.get("data") ?? join(ROOT, "data/samples"));
process.env.TOKENMILL_TEST_RUN ??= `bench_${Date.now()}`;

const PIPELINE = {
  version: 1,
  name: "bench-default",
  steps: [
    { step: "normalize" },
    { step: "gopher_repetition" },
    { step: "gopher_quality" },
    { step: "c4_quality" },
    { step: "fineweb_quality" },
    { step: "pii" },
    { step: "decontaminate" },
    { step: "tokenize" },
  ],
};

// -- corpus ------------------------------------------------------------------------------------------
function inputs(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? (n === "eval" ? [] : inputs(join(dir, n))) : [join(dir, n)]))
    .filter((f) => f.endsWith(".jsonl.gz") && !f.includes("known_duplicate_pairs"))
    .sort();
}

/** Writes the corpus once (reused while --data, --mb and --files are the same). */
function buildCorpus(): { dir: string; textBytes: number; fileBytes: number; docs: number } {
  const dir = join(ROOT, "bench/_scratch/curator-scaling", `${basename(dataDir)}-${targetMb}mb-${nFiles}f`);
  const meta = join(dir, "corpus.json");
  if (existsSync(meta)) return { dir, ...JSON.parse(readFileSync(meta, "utf8")) };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const base: string[] = [];
  for (const f of inputs(dataDir)) {
    for (const line of gunzipSync(readFileSync(f)).toString("utf8").split("\n")) {
      if (line.trim()) base.push((JSON.parse(line) as { text: string }).text);
    }
  }
  if (base.length === 0) throw new Error(`no *.jsonl.gz documents under ${dataDir}`);
  const fds = Array.from({ length: nFiles }, (_, i) => openSync(join(dir, `part-${String(i).padStart(3, "0")}.jsonl`), "w"));
  const pending: string[][] = fds.map(() => []);
  let textBytes = 0;
  let fileBytes = 0;
  let docs = 0;
  for (; textBytes < targetMb * 1e6; docs++) {
    const text = base[docs % base.length]!;
    const line = `${JSON.stringify({ id: `d${docs}`, text })}\n`;
    const k = docs % nFiles;
    pending[k]!.push(line);
    if (pending[k]!.length >= 256) writeSync(fds[k]!, pending[k]!.splice(0).join(""));
    textBytes += Buffer.byteLength(text);
    fileBytes += Buffer.byteLength(line);
  }
  fds.forEach((fd, k) => {
    writeSync(fd, pending[k]!.join(""));
    closeSync(fd);
  });
  const info = { textBytes, fileBytes, docs };
  writeFileSync(meta, JSON.stringify(info));
  return { dir, ...info };
}

// -- one run -----------------------------------------------------------------------------------------
/** user+system CPU seconds of a live process, all threads (Linux /proc; 0 elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (CLK_TCK = 100 on Linux)
  } catch {
    return 0;
  }
}

interface Result {
  processes: number;
  wallS: number;
  cpuS: number;
  tasks: Record<string, number>;
  /** Tasks run more than once (a lock lost under load): their work counts twice in the wall time. */
  retried: number;
  load: [number, number];
  docsKept: number;
  tokens: number;
}

async function measure(processes: number): Promise<Result> {
  const stack = await startStack({ store: "file" });
  const auth = { authorization: `Bearer ${stack.admin}` };
  const curator = spawn(process.execPath, ["--import", "tsx", join(ROOT, "workers/curator/src/main.ts")], {
    // A 2 min job lock: on 2026-11-21 (load 10-18 on 2 vCPUs) the default 30 s lapsed mid-task and the
    // task ran twice, measuring the retry rather than the processes.
    env: { ...process.env, ...stack.workerEnv, PROCESSES: String(processes), WORKER_ID: "bench", LOG_LEVEL: "info", LOCK_DURATION_MS: "120000" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((r) => curator.once("exit", r));
  const pids = new Set<number>([curator.pid!]);
  let ready = 0;
  createInterface({ input: curator.stdout! }).on("line", (line) => {
    let l: { msg?: string; pid?: number; level?: number };
    try {
      l = JSON.parse(line);
    } catch {
      return;
    }
    if (l.msg === "curator worker ready") {
      ready++;
      pids.add(l.pid!);
    }
    if ((l.level ?? 0) >= 40) console.error(line);
  });
  try {
    for (const deadline = Date.now() + 120_000; ready < processes; await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`curator with PROCESSES=${processes} not ready after 120 s`);
    }
    const ok = (await stack.app.inject({ method: "POST", url: "/sources", headers: auth, payload: { name: "bench", uri: `file://${corpus.dir}` } })).statusCode;
    if (ok !== 201) throw new Error(`POST /sources: ${ok}`);
    const pl = await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth, payload: PIPELINE });
    if (pl.statusCode !== 201) throw new Error(`POST /pipelines: ${pl.body}`);

    const cpu0 = [...pids].reduce((n, p) => n + cpuSeconds(p), 0);
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth, payload: { source: "bench", pipeline: PIPELINE.name } });
    const runId = started.json().id as string;
    let run;
    for (;;) {
      run = await stack.prisma.curationRun.findUniqueOrThrow({ where: { id: runId } });
      if (["succeeded", "failed", "cancelled"].includes(run.status)) break;
      await sleep(100);
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = [...pids].reduce((n, p) => n + cpuSeconds(p), 0) - cpu0;
    if (run.status !== "succeeded") throw new Error(`run ${runId} ${run.status}: ${run.error}`);
    const tasks: Record<string, number> = {};
    let retried = 0;
    for (const t of await stack.prisma.curationTask.findMany({ where: { runId } })) {
      tasks[t.workerId ?? "?"] = (tasks[t.workerId ?? "?"] ?? 0) + 1;
      if (t.attempts > 1) retried++;
    }
    return { processes, wallS, cpuS, tasks, retried, load: [load0, loadavg()[0]!], docsKept: Number(run.docsKept), tokens: Number(run.tokensKept) };
  } finally {
    curator.kill("SIGTERM");
    await exited;
    await stack.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const mb = (bytes: number) => bytes / 1e6;

// -- main --------------------------------------------------------------------------------------------
const corpus = buildCorpus();
console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model} (availableParallelism ${availableParallelism()}); PostgreSQL, Redis and this client on the same machine`);
console.log(
  `corpus: ${inputs(dataDir).length} files under ${dataDir} repeated to ${corpus.docs} docs, ${mb(corpus.textBytes).toFixed(1)} MB text, ` +
    `${mb(corpus.fileBytes).toFixed(1)} MB JSONL in ${nFiles} files (${corpus.dir})`,
);
console.log(`pipeline: ${PIPELINE.steps.map((s) => s.step).join(" → ")}; ${runs} runs per process count, alternating\n`);

const results: Result[] = [];
for (let r = 0; r < runs; r++) {
  for (const p of counts) {
    const res = await measure(p);
    results.push(res);
    console.log(
      `run ${r + 1} PROCESSES=${p}: ${res.wallS.toFixed(1)} s, ${(mb(corpus.textBytes) / res.wallS).toFixed(2)} text MB/s, ` +
        `CPU ${res.cpuS.toFixed(1)} s (${(res.cpuS / res.wallS).toFixed(2)} cores), kept ${res.docsKept} docs / ${res.tokens} tokens, ` +
        `tasks ${JSON.stringify(res.tasks)}${res.retried ? ` (${res.retried} retried)` : ""}, load ${res.load.map((x) => x.toFixed(1)).join("→")}`,
    );
  }
}

console.log(`\n| processes | wall s (median of ${runs}) | text MB/s | JSONL MB/s | CPU s | cores busy | text MB per CPU s | speed-up |`);
console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
const base1 = median(results.filter((x) => x.processes === counts[0]).map((x) => x.wallS));
for (const p of counts) {
  const mine = results.filter((x) => x.processes === p);
  const wall = median(mine.map((x) => x.wallS));
  const cpu = median(mine.map((x) => x.cpuS));
  console.log(
    `| ${p} | ${wall.toFixed(1)} | ${(mb(corpus.textBytes) / wall).toFixed(2)} | ${(mb(corpus.fileBytes) / wall).toFixed(2)} | ${cpu.toFixed(1)} | ${(cpu / wall).toFixed(2)} | ${(mb(corpus.textBytes) / cpu).toFixed(2)} | ${(base1 / wall).toFixed(2)}× |`,
  );
}
process.exit(0);
