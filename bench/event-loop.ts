/**
 * How long curation blocks the event loop: the worst and 99th-percentile event-loop delay while
 * `curateLocal` runs over the bundled samples (data/samples), for the default pipeline and a
 * CPU-heavy one (gopher, c4 and fineweb filters, minhash dedup, tokenize). A worker's BullMQ lock
 * renewal and heartbeats are timers on this loop: a delay near LOCK_DURATION_MS (30 s) loses the lock.
 *
 *   npx tsx bench/event-loop.ts [--runs 3] [--copies 4]
 *
 * --copies writes the samples that many times (ids suffixed) so a run holds several batches per
 * file. Prints, per pipeline, the median over --runs of each run's max and p99 delay (ms).
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { gunzipSync } from "node:zlib";
import { parsePipeline } from "@tokenmill/domain";
import { curateLocal } from "../packages/curation/src/local.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const runs = Number(args.get("runs") ?? 3);
const copies = Number(args.get("copies") ?? 4);
const SAMPLES = join(import.meta.dirname, "../data/samples");

const PIPELINES = {
  default: { version: 1, name: "default", steps: [{ step: "normalize" }, { step: "length", min_words: 50 }, { step: "tokenize" }] },
  heavy: {
    version: 1,
    name: "heavy",
    steps: [
      { step: "normalize" },
      { step: "gopher_repetition" },
      { step: "gopher_quality" },
      { step: "c4_quality" },
      { step: "fineweb_quality" },
      { step: "minhash_dedup" },
      { step: "tokenize" },
    ],
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const input = await mkdtemp(join(tmpdir(), "tokenmill-evloop-"));
for (const name of (await readdir(SAMPLES)).filter((n) => n.endsWith(".jsonl.gz"))) {
  const lines = gunzipSync(await readFile(join(SAMPLES, name))).toString("utf8").trim().split("\n");
  const out: string[] = [];
  for (let c = 0; c < copies; c++) for (const l of lines) out.push(JSON.stringify({ ...JSON.parse(l), id: `c${c}-${out.length}` }));
  await writeFile(join(input, name.replace(/\.gz$/, "")), `${out.join("\n")}\n`);
}
try {
  for (const [name, spec] of Object.entries(PIPELINES)) {
    const maxes: number[] = [];
    const p99s: number[] = [];
    const secs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const out = await mkdtemp(join(tmpdir(), "tokenmill-evloop-out-"));
      const h = monitorEventLoopDelay({ resolution: 10 });
      const t0 = performance.now();
      h.enable();
      await curateLocal({ inputs: [input], outDir: out, spec: parsePipeline(spec) });
      h.disable();
      secs.push((performance.now() - t0) / 1000);
      maxes.push(h.max / 1e6);
      p99s.push(h.percentile(99) / 1e6);
      await rm(out, { recursive: true, force: true });
    }
    console.log(`${name}: max ${median(maxes).toFixed(0)} ms, p99 ${median(p99s).toFixed(0)} ms, run ${median(secs).toFixed(1)} s (maxes ${maxes.map((m) => m.toFixed(0)).join(", ")})`);
  }
} finally {
  await rm(input, { recursive: true, force: true });
}
