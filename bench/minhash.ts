/**
 * MinHash signature throughput on one core: word 5-gram shingling + signatures (and band keys)
 * over real text, in GB of UTF-8 text per hour. Prints one line per round and the median.
 *
 *   npx tsx bench/minhash.ts [--mb 64] [--rounds 5] [--buckets 14] [--rows 8] [--bits 64]
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { cpus } from "node:os";
import { MinHasher } from "../packages/curation/src/dedup/minhash.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const targetMb = arg("mb", 64);
const rounds = arg("rounds", 5);
const hasher = new MinHasher({ ngram: 5, buckets: arg("buckets", 14), hashesPerBucket: arg("rows", 8), hashBits: arg("bits", 64) as 32 | 64, seed: 1 });

// Real documents: the repo samples and the shared math/eval sets, repeated up to --mb.
const ROOT = resolve(import.meta.dirname, "..");
const dirs = [join(ROOT, "data/samples"), "/work/shared/data/math", "/work/shared/data/eval"];
const texts: string[] = [];
for (const dir of dirs) {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".jsonl.gz"));
  } catch {
    continue;
  }
  for (const f of files) {
    for (const line of gunzipSync(readFileSync(join(dir, f))).toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      const t = (JSON.parse(line) as { text?: unknown }).text;
      if (typeof t === "string") texts.push(t);
    }
  }
}
const corpusBytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
const repeat = Math.max(1, Math.ceil((targetMb * 1e6) / corpusBytes));

const results: number[] = [];
const cpuResults: number[] = [];
for (let r = 0; r < rounds; r++) {
  let bytes = 0;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let k = 0; k < repeat; k++) {
    for (const t of texts) {
      const sig = hasher.signature(t);
      if (sig) sink ^= hasher.bandKeys(sig)[0]!;
      bytes += Buffer.byteLength(t);
    }
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const gbh = (bytes / 1e9 / s) * 3600;
  // Per CPU-second of this process: the per-core figure when other processes share the cores.
  const gbhCpu = (bytes / 1e9 / cpu) * 3600;
  results.push(gbh);
  cpuResults.push(gbhCpu);
  console.log(`round ${r + 1}: ${(bytes / 1e6).toFixed(1)} MB in ${s.toFixed(2)} s wall, ${cpu.toFixed(2)} s CPU = ${gbh.toFixed(2)} GB/h wall, ${gbhCpu.toFixed(2)} GB/h per CPU-hour (${sink & 1})`);
}
results.sort((a, b) => a - b);
cpuResults.sort((a, b) => a - b);
const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!.toFixed(2);
console.log(
  `median ${median(results)} GB/h wall on one thread, ${median(cpuResults)} GB/h per CPU-hour; ${texts.length} docs, ${(corpusBytes / 1e6).toFixed(1)} MB corpus × ${repeat}; ` +
    `${hasher.params.buckets}×${hasher.params.hashesPerBucket} ${hasher.params.hashBits}-bit; ${cpus()[0]?.model ?? "cpu"}, node ${process.version}`,
);
