/**
 * Throughput of the curation steps, each alone and chained, on the real sample data in shared/data.
 *
 *   npx tsx bench/curation-steps.ts [--mb 200] [--runs 3] [--only name,name] [--data ../shared/data]
 *
 * Corpus: every *.jsonl.gz under the data folder except eval/ and known_duplicate_pairs (the corpus
 * of shared/research/peer-baselines.md: 16,634 documents, 28.7 MB of text), repeated in order until
 * it holds --mb MB of UTF-8 text. MB = 10^6 bytes of text; one warm-up pass on the first 2,000
 * documents, then the median of --runs runs. Steps run in this process on one core, in batches of
 * 256 documents as the engine does (tokenize uses its native thread pool).
 *
 * Repeating the corpus repeats documents, which helps the word tokenizer's chunk cache more than
 * fresh text would; the "1× corpus" line (--mb 28.7 or less) is the fair figure for that effect.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { parsePipeline, type StepConfig } from "@tokenmill/domain";
import { createSteps } from "../packages/curation/src/steps/registry.js";
import type { Step } from "../packages/curation/src/steps/step.js";
import type { Doc } from "../packages/curation/src/types.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const targetMb = Number(args.get("mb") ?? 200);
const runs = Number(args.get("runs") ?? 3);
const dataDir = resolve(args.get("data") ?? join(import.meta.dirname, "../../shared/data"));
const only = args.get("only")?.split(",");

function files(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? (n === "eval" ? [] : files(join(dir, n))) : [join(dir, n)]))
    .filter((f) => f.endsWith(".jsonl.gz") && !f.includes("known_duplicate_pairs"))
    .sort();
}

const base: string[] = [];
for (const f of files(dataDir)) {
  for (const line of gunzipSync(readFileSync(f)).toString("utf8").split("\n")) {
    if (line.trim()) base.push((JSON.parse(line) as { text: string }).text);
  }
}
const baseBytes = base.reduce((n, t) => n + Buffer.byteLength(t), 0);
const texts: string[] = [];
let bytes = 0;
for (let i = 0; bytes < targetMb * 1e6; i++) {
  const t = base[i % base.length]!;
  texts.push(t);
  bytes += Buffer.byteLength(t);
}

const CONFIGS: [label: string, steps: Record<string, unknown>[]][] = [
  ["normalize", [{ step: "normalize" }]],
  ["language_id", [{ step: "language_id" }]],
  ["gopher_repetition", [{ step: "gopher_repetition" }]],
  ["gopher_quality", [{ step: "gopher_quality" }]],
  ["c4_quality", [{ step: "c4_quality" }]],
  ["fineweb_quality", [{ step: "fineweb_quality" }]],
  ["pii", [{ step: "pii" }]],
  ["decontaminate", [{ step: "decontaminate" }]],
  ["tokenize", [{ step: "tokenize" }]],
  // datatrove's chain in peer-baselines.md: GopherRepetition → GopherQuality → C4Quality(filter_no_terminal_punct=False) → FineWebQuality
  [
    "4 filters (peer chain)",
    [{ step: "gopher_repetition" }, { step: "gopher_quality" }, { step: "c4_quality", filter_no_terminal_punct: false }, { step: "fineweb_quality" }],
  ],
  [
    "pipeline",
    [
      { step: "normalize" },
      { step: "gopher_repetition" },
      { step: "gopher_quality" },
      { step: "c4_quality" },
      { step: "fineweb_quality" },
      { step: "pii" },
      { step: "decontaminate" },
      { step: "tokenize" },
    ],
  ],
];

async function build(steps: Record<string, unknown>[]): Promise<Step[]> {
  const withTok = steps.at(-1)?.step === "tokenize" ? steps : [...steps, { step: "tokenize" }];
  const spec = parsePipeline({ version: 1, name: "bench", steps: withTok });
  const configs = spec.steps.slice(0, steps.length) as StepConfig[];
  return createSteps({ ...spec, steps: configs });
}

/**
 * Runs the corpus through the steps in 256-document batches; returns wall seconds, CPU seconds of
 * the whole process (all threads: tokenize's native pool included) and documents kept.
 */
async function pass(steps: Step[], corpus: string[]): Promise<[seconds: number, cpu: number, kept: number]> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let kept = 0;
  for (let i = 0; i < corpus.length; i += 256) {
    let docs: Doc[] = corpus.slice(i, i + 256).map((text, k) => ({ doc_id: String(i + k), text, line: i + k + 1, byte_offset: 0, fields: {} }));
    for (const s of steps) {
      if (docs.length === 0) break;
      docs = (await s.processBatch(docs)).kept;
    }
    kept += docs.length;
  }
  const c = process.cpuUsage(c0);
  return [Number(process.hrtime.bigint() - t0) / 1e9, (c.user + c.system) / 1e6, kept];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`corpus: ${base.length} documents, ${(baseBytes / 1e6).toFixed(1)} MB of text, repeated to ${texts.length} documents, ${(bytes / 1e6).toFixed(1)} MB`);
console.log(`node ${process.version}, ${cpus().length} CPU(s): ${cpus()[0]?.model ?? "?"}; ${runs} run(s), median\n`);
// "CPU MB/s" divides by the CPU time the process used: on a machine shared with other work it is the
// better estimate of what one core does; wall-clock figures there are lower bounds.
const rows: string[][] = [["step", "docs/s", "text MB/s", "CPU MB/s", "kept", "runs (s)"]];
for (const [label, steps] of CONFIGS) {
  if (only && !only.includes(label)) continue;
  const s = await build(steps);
  await pass(s, texts.slice(0, 2000)); // warm-up: model loading, JIT
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let kept = 0;
  for (let r = 0; r < runs; r++) {
    const [sec, cpu, k] = await pass(s, texts);
    times.push(sec);
    cpuTimes.push(cpu);
    kept = k;
  }
  const t = median(times);
  const c = median(cpuTimes);
  rows.push([
    label,
    Math.round(texts.length / t).toLocaleString("en"),
    (bytes / 1e6 / t).toFixed(2),
    (bytes / 1e6 / c).toFixed(2),
    `${kept}/${texts.length}`,
    times.map((x) => x.toFixed(1)).join(" "),
  ]);
  console.error(`${label}: ${(bytes / 1e6 / t).toFixed(2)} MB/s`);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
