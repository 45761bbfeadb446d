/**
 * Writes test/contracts/sampler-vectors.json: mixture specs over small synthetic datasets, the
 * plans the TypeScript planner makes of them, and what the sampler returns for every index.
 * Both test suites (test/contracts/sampler.test.ts, workers/trainer/tests/test_sampler.py) load
 * the plans and must reproduce `expected` exactly. Regenerate only on a deliberate contract change:
 *   npx tsx test/contracts/generate.ts
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { planMixture, Sampler, datasetInfoFromManifest, type Manifest, type MixtureSpec, type SequenceRef } from "@tokenmill/domain";
import { fixtureDatasets, type Fixture } from "./fixtures.js";

interface Case {
  name: string;
  what: string;
  spec: MixtureSpec;
  /** Indices checked one by one, e.g. a resume at an arbitrary position. */
  indices?: number[];
}

const cases: Case[] = [
  {
    name: "weights-repeats-partial",
    what: "three weighted sources read 4.4, 33.3 and 4.75 times: repeats > 1, each ending in a partial pass",
    spec: { seed: 7, seq_len: 16, tokenizer: "llama3", block_size: 32, phases: [{ name: "p1", tokens: 16 * 32 * 20, components: [
      { name: "big", dataset: "big", weight: 5 }, { name: "small", dataset: "small", weight: 3 }, { name: "tiny", dataset: "tiny", weight: 0.25 }] }] },
  },
  {
    name: "schedule-change",
    what: "weights change at block 6 of 12; streams continue (nothing dropped or repeated)",
    spec: { seed: 11, seq_len: 8, tokenizer: "llama3", block_size: 16, phases: [{ name: "anneal", tokens: 8 * 16 * 12,
      components: [{ name: "big", dataset: "big", weight: 9 }, { name: "small", dataset: "small", weight: 1 }],
      schedule: [{ start_tokens: 8 * 16 * 6, weights: { big: 1, small: 3 } }] }] },
  },
  {
    name: "phases-forms-resume",
    what: "two phases (absolute tokens, repeat, weight); the same dataset continues across phases; sparse indices as a resume",
    spec: { seed: 4242, seq_len: 32, tokenizer: "llama3", block_size: 8, phases: [
      { name: "pre", tokens: 32 * 8 * 10, components: [{ name: "web", dataset: "big", weight: 1 }, { name: "math", dataset: "small", repeat: 1.5 }] },
      { name: "mid", components: [{ name: "web", dataset: "big", tokens: 32 * 8 * 3 }, { name: "tiny", dataset: "tiny", tokens: 32 * 21 }] },
    ] },
    indices: [0, 1, 37, 79, 80, 81, 90, 101],
  },
];

const ref = (r: SequenceRef) => ({ index: r.index, phase: r.phase, source: r.source, pass_index: r.pass_index,
  pieces: r.pieces.map((p) => [p.dataset, p.shard, p.row, p.start, p.end, p.eos_after]) });

export function buildVectors(ds: Record<string, Fixture>) {
  const manifests: Record<string, Manifest> = Object.fromEntries(Object.entries(ds).map(([k, f]) => [k, f.manifest]));
  const docTokens = (key: string, shard: string) => ds[key]!.docs[shard]!;
  return cases.map((c) => {
    const plan = planMixture(c.spec, (name) => datasetInfoFromManifest(name, manifests[name]!));
    const sampler = new Sampler(plan, manifests, docTokens);
    const all = Array.from({ length: plan.sequences }, (_, i) => i);
    const indices = c.indices ?? all;
    return { name: c.name, what: c.what, spec: c.spec, plan, sources: Array.from(sampler.sourcesOf(all)), expected: indices.map((i) => ref(sampler.lookup(i))) };
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const ds = fixtureDatasets();
  const out = { contract: "tokenmill sampler vectors", version: 1, datasets: ds, cases: buildVectors(ds) };
  writeFileSync(join(import.meta.dirname, "sampler-vectors.json"), JSON.stringify(out) + "\n");
  console.log(`wrote ${out.cases.length} cases`);
}
