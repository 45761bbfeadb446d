import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { stringify } from "yaml";
import { orderLike, RECIPE_SHAPE, scaleModel, ValidationError, type Recipe } from "@tokenmill/domain";
import type { Client } from "./client.js";
import { table } from "./format.js";

export interface ApplyOptions {
  /** Shrinks budgets, model and steps by this factor and maps sources to bundled samples. */
  scale?: number;
  samplesDir: string;
  log: (line: string) => void;
  /** Where what a failed apply removed is reported (default: `log`); `--json` sends it to stderr. */
  warn?: (line: string) => void;
}

/**
 * A scaled-down copy of a recipe for one machine: phase tokens × F (at least one block of
 * sequences), steps to match on one GPU, a smaller model, and every source mapped to the bundled
 * sample of its domain (its `sample:` key) — reported line by line.
 */
export function scaleRecipe(r: Recipe, factor: number, samplesDir: string, log: (l: string) => void): Recipe {
  const sources = r.sources.map((s) => {
    if (s.uri?.startsWith("file:") && existsSync(resolve(s.uri.replace(/^file:(\/\/)?/, "")))) return s;
    if (!s.sample) throw new ValidationError(`cannot be scaled down: no uri on this machine and no bundled sample`, `sources.${s.name}.sample`);
    const path = resolve(samplesDir, s.sample);
    if (!existsSync(path)) throw new ValidationError(`bundled sample ${path} not found`, `sources.${s.name}.sample`);
    log(`source ${s.name} (${s.hf_id ?? "members"}${s.subset ? ` ${s.subset}` : ""}) is not available here: using ${s.sample} (${s.domain})`);
    return { ...s, uri: `file://${path}`, identity: { revision: null }, declared: { tokens: null, rows: null } };
  });
  const stages = r.stages.map((st) => ({
    ...st,
    phases: st.phases.map((ph) => {
      const tokens = ph.tokens === undefined ? undefined : Math.max(st.seq_len * 8, Math.round(ph.tokens * factor));
      const batch = Math.min(ph.training.per_gpu_batch, 8);
      const steps = Math.max(1, Math.ceil((tokens ?? 0) / (batch * st.seq_len)));
      const mix = ph.mix.map((m) => (m.tokens !== undefined ? { ...m, tokens: Math.max(st.seq_len, Math.round(m.tokens * factor)) } : m));
      return { ...ph, ...(tokens !== undefined ? { tokens } : {}), mix, schedule: undefined, training: { ...ph.training, gpus: 1, per_gpu_batch: batch, steps, warmup_steps: ph.training.warmup_steps === undefined ? undefined : Math.min(ph.training.warmup_steps, Math.ceil(steps / 10)) } };
    }),
  }));
  return { ...r, name: `${r.name}-x${factor}`, sources, stages, model: scaleModel(r.model, factor) };
}

/**
 * recipe apply, all or nothing: pipelines and sources (reused when they exist with the same URI), one curation run
 * per source, then the experiment. Before the first write the API checks everything it can
 * without curating (POST /experiments/preflight); when a later step fails (a curation fails, or
 * the plan over the curated sizes is rejected) what this apply created is deleted again
 * (POST /experiments/rollback) and the original error is rethrown.
 */
export async function applyRecipe(c: Client, input: Recipe, o: ApplyOptions & { name?: string }): Promise<unknown> {
  const r = o.scale !== undefined && o.scale < 1 ? scaleRecipe(input, o.scale, o.samplesDir, o.log) : input;
  for (const s of r.sources) {
    if (!s.uri) throw new ValidationError(`has no uri (hf_id ${s.hf_id ?? "-"} must be mirrored first); use --scale for a run over the bundled samples`, `sources.${s.name}.uri`);
  }
  const name = o.name ?? r.name;
  const sources = r.sources.map((s) => ({
    name: `${r.name}.${s.name}`.slice(0, 128),
    uri: s.uri!.startsWith("file:") && !s.uri!.startsWith("file://") ? `file://${resolve(s.uri!.slice(5))}` : s.uri!,
  }));
  const preflight = await c.post("/experiments/preflight", { name, recipe: r, sources });
  const checked = preflight.sources as { name: string; id: string | null }[];
  const existing = new Set((preflight.pipelines as { id: string | null }[]).map((p) => p.id));

  const created: Created = { pipelines: [], sources: [], curation_runs: [] };
  try {
    const pipelines = new Map<string, string>();
    for (const p of r.pipelines) {
      const row = await c.post("/pipelines", p);
      pipelines.set(p.name, row.id);
      if (!existing.has(row.id)) created.pipelines.push(row.id);
      o.log(`pipeline ${row.name}@${row.version}`);
    }
    const datasets: Record<string, string> = {};
    for (const [i, s] of r.sources.entries()) {
      let id = checked[i]!.id;
      if (!id) {
        // Under the name preflight gave: the recipe's, or name.<hash> when that name holds other data.
        id = (await c.post("/sources", { ...sources[i], name: checked[i]!.name })).id as string;
        created.sources.push(id);
      }
      const run = await c.post("/curation-runs", { source: id, pipeline: pipelines.get(s.pipeline), dataset_name: s.name });
      created.curation_runs.push(run.id);
      const done = await waitRun(c, run.id);
      if (done.status !== "succeeded" || !done.dataset_version_id) throw new Error(`curation of ${s.name} ${done.status}: ${done.error ?? "no dataset version"}`);
      datasets[s.name] = done.dataset_version_id;
      o.log(`source ${s.name}: dataset version ${done.dataset_version_id}${done.reused_version ? " (reused)" : ""}`);
    }
    const e = await c.post("/experiments", { name, recipe: r, datasets });
    const budget = await c.get(`/experiments/${e.id}/budget`);
    o.log(`experiment ${e.name} (${e.id})`);
    o.log(table(["stage", "phase", "source", "tokens", "share", "epochs"], budget.map((b: any) => [b.stage, b.phase, b.source, b.tokens, `${(b.share * 100).toFixed(2)}%`, b.epochs === null ? "-" : b.epochs.toFixed(2)])));
    return { experiment: e, budget };
  } catch (err) {
    await rollback(c, created, o.warn ?? o.log);
    throw err;
  }
}

interface Created {
  pipelines: string[];
  sources: string[];
  curation_runs: string[];
}

/** Deletes what a failed apply created; a failure here is reported, never hides the original error. */
async function rollback(c: Client, created: Created, log: (line: string) => void): Promise<void> {
  if (!created.pipelines.length && !created.sources.length && !created.curation_runs.length) return;
  try {
    const r = await c.post("/experiments/rollback", created);
    const d = r.deleted;
    log(`apply failed; removed what it created: ${d.curation_runs} curation run(s), ${d.dataset_versions} dataset version(s), ${d.sources} source(s), ${d.pipelines} pipeline(s)`);
    for (const k of r.kept) log(`kept ${k.kind} ${k.id}: ${k.reason}`);
  } catch (err) {
    log(`apply failed, and removing what it created failed too (${(err as Error).message}); created: ${JSON.stringify(created)}`);
  }
}

/** The experiment's recipe with each source's identity pinned to the dataset version it used. */
export async function exportRecipe(c: Client, id: string): Promise<string> {
  const e = await c.get(`/experiments/${id}`);
  const recipe = e.recipe as Recipe;
  const pinned = new Map<string, string>();
  for (const m of e.mixtures) {
    const mix = await c.get(`/mixtures/${m.mixture_id}`);
    for (const ph of mix.plan.phases) for (const comp of ph.components) pinned.set(comp.name, mix.plan.datasets[comp.dataset].fingerprint);
  }
  const sources = recipe.sources.map((s) => (pinned.has(s.name) ? { ...s, identity: { ...s.identity, dataset_fingerprint: pinned.get(s.name)! } } : s));
  return `# exported from experiment ${e.name} (${e.id}), recipe ${e.recipe_hash}\n${stringify(orderLike(RECIPE_SHAPE, { ...recipe, sources }))}`;
}

async function waitRun(c: Client, id: string): Promise<any> {
  for (;;) {
    const run = await c.get(`/curation-runs/${id}`);
    if (["succeeded", "failed", "cancelled"].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 250));
  }
}
