/**
 * Single-threaded Llama-3 tokenization: the tokenizers node binding's `encode`, one document at a
 * time (the "HF tokenizers encode, 1 thread" row of shared/research/peer-baselines.md), against the
 * TypeScript encoder of packages/curation/src/bpe.
 *
 *   npx tsx bench/tokenize.ts [--runs 3] [--data ../shared/data]
 *
 * Corpus: every *.jsonl.gz under the data folder except eval/ and known_duplicate_pairs (16,634
 * documents, 28.7 MB of text, 8,477,589 tokens). Each encoder runs in a fresh process: load, one
 * warm-up pass over the corpus, then the median of --runs passes. The warm-up pass is also reported
 * ("cold"): both encoders memoize pre-tokens, so later passes over the same corpus find every one.
 * MB = 10^6 bytes of UTF-8 text. "CPU MB/s" divides by the process's CPU time: on a shared machine
 * it is the better estimate of one core; wall-clock figures there are lower bounds.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const runs = Number(args.get("runs") ?? 3);
const dataDir = resolve(args.get("data") ?? join(import.meta.dirname, "../../shared/data"));
const impl = args.get("impl");

interface Result {
  impl: string;
  loadSeconds: number;
  /** [wall, cpu] seconds of the warm-up pass and of each measured pass. */
  cold: [number, number];
  passes: [number, number][];
  tokens: number;
  maxRssMiB: number;
}

function files(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? (n === "eval" ? [] : files(join(dir, n))) : [join(dir, n)]))
    .filter((f) => f.endsWith(".jsonl.gz") && !f.includes("known_duplicate_pairs"))
    .sort();
}

function corpus(): string[] {
  const texts: string[] = [];
  for (const f of files(dataDir)) {
    for (const line of gunzipSync(readFileSync(f)).toString("utf8").split("\n")) {
      if (line.trim()) texts.push((JSON.parse(line) as { text: string }).text);
    }
  }
  return texts;
}

type Encode = (text: string) => Promise<number> | number;

async function loadEncoder(name: string): Promise<Encode> {
  const { LLAMA3_TOKENIZER_JSON } = await import("../packages/curation/src/tokenizer.js");
  const json = JSON.parse(readFileSync(LLAMA3_TOKENIZER_JSON, "utf8"));
  if (name === "hf") {
    const { Tokenizer } = await import("tokenizers");
    // As curation's tokenizer did before bpe/: special added tokens removed, so they are plain text.
    const tok = Tokenizer.fromString(JSON.stringify({ ...json, added_tokens: json.added_tokens.filter((t: { special: boolean }) => !t.special) }));
    return async (text) => (await tok.encode(text, null, { addSpecialTokens: false })).getIds().length;
  }
  const { BpeEncoder } = await import("../packages/curation/src/bpe/llama3.js");
  const encoder = new BpeEncoder(json);
  return (text) => encoder.encode(text).length;
}

async function measure(name: string): Promise<Result> {
  const texts = corpus();
  const t0 = performance.now();
  const encode = await loadEncoder(name);
  const loadSeconds = (performance.now() - t0) / 1e3;
  let tokens = 0;
  const pass = async (): Promise<[number, number]> => {
    const c0 = process.cpuUsage();
    const start = performance.now();
    tokens = 0;
    for (const text of texts) tokens += await encode(text);
    const c = process.cpuUsage(c0);
    return [(performance.now() - start) / 1e3, (c.user + c.system) / 1e6];
  };
  const cold = await pass();
  const passes: [number, number][] = [];
  for (let r = 0; r < runs; r++) passes.push(await pass());
  return { impl: name, loadSeconds, cold, passes, tokens, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) };
}

if (impl) {
  // Child: one encoder, results as one JSON line.
  process.stdout.write(JSON.stringify(await measure(impl)) + "\n");
} else {
  const texts = corpus();
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  console.log(`corpus: ${texts.length} documents, ${(bytes / 1e6).toFixed(1)} MB of text (${dataDir})`);
  console.log(`node ${process.version}, ${cpus().length} CPU(s): ${cpus()[0]?.model ?? "?"}; 1 warm-up + ${runs} run(s), median\n`);
  const results: Result[] = [];
  for (const name of ["hf", "ts"]) {
    const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, "--impl", name, "--runs", String(runs), "--data", dataDir], {
      encoding: "utf8",
      // One thread for the binding too (it would not use more for one document, but make sure).
      env: { ...process.env, RAYON_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false" },
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`${name} failed: ${child.stderr}`);
    results.push(JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Result);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const label: Record<string, string> = { hf: "tokenizers binding, encode per document", ts: "TypeScript encoder (bpe/)" };
  const rows = [["encoder", "docs/s", "text MB/s", "CPU MB/s", "tokens/s", "cold MB/s", "load s", "max RSS MiB", "runs (s)"]];
  const mbps: number[] = [];
  for (const r of results) {
    const wall = median(r.passes.map((p) => p[0]));
    const cpu = median(r.passes.map((p) => p[1]));
    mbps.push(bytes / 1e6 / wall);
    rows.push([
      label[r.impl]!,
      Math.round(texts.length / wall).toLocaleString("en"),
      (bytes / 1e6 / wall).toFixed(2),
      (bytes / 1e6 / cpu).toFixed(2),
      `${Math.round(r.tokens / wall / 1e3).toLocaleString("en")} k`,
      (bytes / 1e6 / r.cold[0]).toFixed(2),
      r.loadSeconds.toFixed(1),
      String(r.maxRssMiB),
      r.passes.map((p) => p[0].toFixed(1)).join(" "),
    ]);
  }
  console.log(rows.map((r) => `| ${r.join(" | ")} |`).join("\n").replace(/\n/, `\n|${rows[0]!.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|\n`));
  const [hf, ts] = results;
  console.log(`\ntokens: binding ${hf!.tokens.toLocaleString("en")}, TypeScript ${ts!.tokens.toLocaleString("en")}${hf!.tokens === ts!.tokens ? " (equal)" : " (DIFFERENT)"}`);
  console.log(`TypeScript / binding: ${(mbps[1]! / mbps[0]!).toFixed(2)}x wall-clock`);
  if (hf!.tokens !== ts!.tokens) process.exitCode = 1;
}
