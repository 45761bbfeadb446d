/**
 * Planning the full MobileLLM-R1-950M recipe (4.2T tokens, 4 phases, 23 sources) over N synthetic
 * shard manifests split across its sources in proportion to their declared tokens.
 *   node --expose-gc --import tsx bench/mixture-plan.ts [shards…]   (default 100000 300000 1000000)
 * Prints wall time of (sum every manifest's shard list + plan every stage) and the heap the
 * manifests and plan hold, to show both are linear in the number of shards.
 */
import { readFileSync } from "node:fs";
import { datasetInfoFromManifest, parseRecipeText, planRecipe, type DatasetInfo, type Manifest } from "@tokenmill/domain";

const recipe = parseRecipeText(readFileSync(new URL("../recipes/mobilellm-r1-950m.yaml", import.meta.url), "utf8"));
const gc = (globalThis as { gc?: () => void }).gc;
const counts = process.argv.slice(2).map(Number);

function manifests(total: number): Map<string, Manifest> {
  // Mid-training sources declare rows only: give them 1,000 tokens per row for the benchmark.
  const sizes = recipe.sources.map((s) => s.declared.tokens ?? Math.max(2e9, (s.declared.rows ?? 1e6) * 1000));
  const sum = sizes.reduce((a, b) => a + b, 0);
  const out = new Map<string, Manifest>();
  recipe.sources.forEach((s, i) => {
    const n = Math.max(1, Math.round((total * sizes[i]!) / sum));
    const per = Math.floor(sizes[i]! / n);
    const rows = Math.max(1, Math.floor((s.declared.rows ?? sizes[i]! / 1000) / n));
    const shards = Array.from({ length: n }, (_, k) => ({ file: `shard-${String(k).padStart(7, "0")}.arrow`, rows, tokens: per, bytes: per * 2, sha256: "0".repeat(64) }));
    out.set(s.name, { manifest_version: 1, dataset: s.name, fingerprint: `fp-${s.name}`, tokenizer: { id: "llama3", vocab_sha256: "x", vocab_size: 128256, eos_id: 128001 }, pipeline: { name: "p", hash: "h" }, code_version: "bench", inputs: [], shards, totals: { shards: n, rows: rows * n, tokens: per * n, bytes: 0 } });
  });
  return out;
}

console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
console.log("shards      manifest heap   plan (sum shards + plan 2 stages)");
for (const n of counts.length ? counts : [100_000, 300_000, 1_000_000]) {
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const ms = manifests(n);
  gc?.();
  const heap = process.memoryUsage().heapUsed - before;
  const best = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const infos = new Map<string, DatasetInfo>();
    for (const [k, m] of ms) infos.set(k, datasetInfoFromManifest(k, m));
    const plans = planRecipe(recipe, (s) => infos.get(s.name)!);
    best.push(performance.now() - t0);
    if (plans.length !== 2) throw new Error("expected two stages");
  }
  const total = [...ms.values()].reduce((a, m) => a + m.shards.length, 0);
  console.log(`${String(total).padEnd(10)}  ${(heap / 2 ** 20).toFixed(0).padStart(6)} MiB     ${Math.min(...best).toFixed(1)} ms (best of 3)`);
}
