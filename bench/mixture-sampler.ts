/**
 * TypeScript sampler throughput and start-up.
 *   node --import tsx bench/mixture-sampler.ts [runs=3]
 * 1. lookups/s: consecutive global indices (what a training loader asks for), full SequenceRef
 *    with pieces, over a 3-source plan whose datasets have 2,000 shards of 500 documents each;
 *    then the same through lookupMany into a reused SequenceBatch (no object per sequence).
 * 2. locate/s: index → (component, stream position) only (token accounting, dashboards).
 * 3. start-up: constructing a Sampler and reading the first sequence, for 1k…1M shards (the
 *    first sequence sums the one dataset it touches and lays out its pass: O(shards of it)).
 * Every figure is the median of `runs`.
 */
import { planMixture, Sampler, SequenceBatch, datasetInfoFromManifest, type Manifest } from "@tokenmill/domain";

function dataset(name: string, shards: number, rowsPer: number) {
  const docs = new Map<string, Uint32Array>();
  const list = [];
  let s = 1;
  for (let i = 0; i < shards; i++) {
    const file = `shard-${i}.arrow`;
    const rows = new Uint32Array(rowsPer);
    let t = 0;
    for (let r = 0; r < rowsPer; r++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      rows[r] = 50 + (s % 2000);
      t += rows[r]!;
    }
    docs.set(file, rows);
    list.push({ file, rows: rowsPer, tokens: t, bytes: 0, sha256: "" });
  }
  const manifest = { dataset: name, fingerprint: name, tokenizer: { id: "llama3", vocab_sha256: "", vocab_size: 128256, eos_id: 128001 }, shards: list } as unknown as Manifest;
  return { manifest, docs };
}

function setup(shards: number, rowsPer: number, tokens = 2048 * 65536 * 32) {
  const ds = { web: dataset("web", shards, rowsPer), math: dataset("math", Math.max(1, shards >> 3), rowsPer), code: dataset("code", Math.max(1, shards >> 2), rowsPer) };
  const manifests = Object.fromEntries(Object.entries(ds).map(([k, v]) => [k, v.manifest]));
  const spec = { seed: 1, seq_len: 2048, tokenizer: "llama3", phases: [{ name: "p", tokens, components: [
    { name: "web", dataset: "web", weight: 6 }, { name: "math", dataset: "math", weight: 3 }, { name: "code", dataset: "code", weight: 1 }] }] };
  const plan = planMixture(spec, (k) => datasetInfoFromManifest(k, manifests[k]!));
  return { plan, manifests, docTokens: (k: string, f: string) => ds[k as keyof typeof ds].docs.get(f)! };
}

const RUNS = Number(process.argv[2] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`node ${process.version}, ${process.platform}/${process.arch}, median of ${RUNS}`);
{
  const { plan, manifests, docTokens } = setup(2000, 500);
  const sampler = new Sampler(plan, manifests, docTokens, 8192);
  const N = 1_000_000;
  const start = 123_457;
  for (let i = 0; i < 50_000; i++) sampler.lookup(start + i); // warm caches / JIT
  const batch = new SequenceBatch(4096);
  for (let i = 0; i < 50_000; i += 4096) sampler.lookupMany(start + i, 4096, batch);
  // Wall-clock rate, and the rate per second of CPU time this process got (on a shared machine
  // the second is the better per-core estimate; both are medians).
  const rate = (fn: () => number) => {
    const wall: number[] = [];
    const cpu: number[] = [];
    let check = 0;
    for (let r = 0; r < RUNS; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      check = fn();
      wall.push(N / ((performance.now() - t0) / 1000) / 1e6);
      const c = process.cpuUsage(c0);
      cpu.push(N / ((c.user + c.system) / 1e6) / 1e6);
    }
    return `${median(wall).toFixed(2)} M sequences/s wall, ${median(cpu).toFixed(2)} M per CPU-second (runs ${wall.map((x) => x.toFixed(2)).join(" / ")}; check ${check})`;
  };
  console.log(`lookup (SequenceRef objects), ${N.toLocaleString("en-US")} consecutive: ${rate(() => {
    let pieces = 0;
    for (let i = 0; i < N; i++) pieces += sampler.lookup(start + i).pieces.length;
    return pieces;
  })}`);
  console.log(`lookupMany (typed arrays, batches of 4,096): ${rate(() => {
    let pieces = 0;
    for (let i = 0; i < N; i += 4096) pieces += sampler.lookupMany(start + i, Math.min(4096, N - i), batch).pieces;
    return pieces;
  })}`);
  console.log(`locate: ${rate(() => {
    let acc = 0;
    for (let i = 0; i < N; i++) acc += sampler.locate(start + i).component;
    return acc;
  })}`);
}
for (const shards of [1_000, 10_000, 100_000, 1_000_000]) {
  const { plan, manifests, docTokens } = setup(shards, 4, 2048 * 1024);
  const construct: number[] = [];
  const first: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const s = new Sampler(plan, manifests, docTokens);
    const t1 = performance.now();
    s.lookup(Math.floor(plan.sequences / 2));
    const t2 = performance.now();
    construct.push(t1 - t0);
    first.push(t2 - t1);
  }
  console.log(`start-up with ${shards.toLocaleString("en-US")} web shards (+${((shards >> 3) + (shards >> 2)).toLocaleString("en-US")} others): construct ${median(construct).toFixed(2)} ms, first sequence ${median(first).toFixed(1)} ms`);
}
