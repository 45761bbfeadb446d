import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { parse as parseYaml } from "yaml";
import type { Worker } from "bullmq";
import { curateLocal } from "@tokenmill/curation";
import { DEFAULT_PIPELINE } from "@tokenmill/domain";
import { asBullConnection, redisConnection } from "@tokenmill/queues";
import { waitFor } from "@tokenmill/testkit";
import { createLaunchWorker, LocalBackend, trainerEnvironment, type Backend, type LauncherDeps } from "@tokenmill/launcher";
import type { Stack } from "../support/stack.js";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const PYTHON = join(ROOT, ".venv", "bin", "python");
/** The allowlisted part of this process's environment, the trainer's base as the launcher builds it. */
export const BASE_ENV = trainerEnvironment(process.env);

/** Curates a bundled sample straight into the stack's store and registers it as a dataset version (once per fingerprint). */
export async function sampleVersion(stack: Stack, name: string, file: string): Promise<string> {
  const base = fileURLToPath(stack.storeUri.replace(/^file:\/\//, "file://"));
  const prefix = `datasets/${name}/local/`;
  const outDir = join(base, prefix);
  await mkdir(outDir, { recursive: true });
  const { manifest } = await curateLocal({ spec: DEFAULT_PIPELINE, inputs: [join(ROOT, "data/samples", file)], outDir, sourceName: name });
  const m = manifest as unknown as { fingerprint: string; totals: { rows: number; tokens: number; bytes: number } };
  // The same file curated the same way is the same version, whatever it is called.
  const existing = await stack.prisma.datasetVersion.findUnique({ where: { fingerprint: m.fingerprint } });
  if (existing) return existing.id;
  const v = await stack.prisma.datasetVersion.create({
    data: { name, fingerprint: m.fingerprint, storeUri: stack.storeUri, prefix, tokenizer: "llama3", docs: BigInt(m.totals.rows), tokens: BigInt(m.totals.tokens), bytes: BigInt(m.totals.bytes), manifest: manifest as object },
  });
  return v.id;
}

/**
 * A two-source, two-phase recipe at seq_len 64 (the demo recipe's shape, made tiny): 2 + 2 blocks of
 * 8 sequences, i.e. 32 sequences; with micro-batch 4 on one process that is 8 steps.
 */
export function tinyRecipe(name: string) {
  const demo = parseYaml(readFileSync(join(ROOT, "recipes/demo.yaml"), "utf8"));
  const training = { ...demo.stages[0].phases[0].training, per_gpu_batch: 4, steps: 4, warmup_steps: 1 };
  return {
    ...demo,
    name,
    sources: demo.sources.filter((s: { name: string }) => s.name === "web" || s.name === "code"),
    stages: [
      {
        name: "pretrain",
        seq_len: 64,
        block_size: 8,
        phases: [
          { name: "phase-1", tokens: 64 * 8 * 2, mix: [{ source: "web", weight: 3 }, { source: "code", weight: 1 }], training },
          { name: "phase-2", init: "phase-1", tokens: 64 * 8 * 2, mix: [{ source: "web", weight: 1 }, { source: "code", weight: 1 }], training },
        ],
      },
    ],
  };
}

/** Overrides that make a run of tinyRecipe train in seconds on a CPU. */
export const TINY = { model: { recipe: "tiny", max_seq_len: 64 }, micro_batch_size: 4, progress_every_steps: 2, checkpoint_every_steps: 2, device: "cpu" as const };

/**
 * An experiment of tinyRecipe over the web and code samples; `blocks` per phase (default 2, i.e. 32
 * sequences in all) makes a longer plan, for tests that must act while the trainer is mid-run.
 */
export async function experiment(stack: Stack, name: string, blocks = 2): Promise<string> {
  const web = await sampleVersion(stack, `${name}-web`, "c4_redpajama_cc_samples.jsonl.gz");
  const code = await sampleVersion(stack, `${name}-code`, "thealgorithms_python_first200.jsonl.gz");
  const recipe = tinyRecipe(name);
  for (const p of recipe.stages[0]!.phases) p.tokens = 64 * 8 * blocks;
  const res = await stack.app.inject({ method: "POST", url: "/experiments", headers: { authorization: `Bearer ${stack.admin}` }, payload: { name, recipe, datasets: { web, code } } });
  if (res.statusCode !== 201) throw new Error(`POST /experiments: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

/** A launcher worker in this process, with the given backends (default: local with the project's venv). */
export async function startLauncher(stack: Stack, apiUrl: string, runsDir: string, backends?: Record<string, Backend>, extra: Partial<LauncherDeps> = {}): Promise<Worker> {
  const worker = createLaunchWorker(
    {
      prisma: stack.prisma,
      logger: pino({ level: "warn" }),
      backends: backends ?? { local: new LocalBackend({ python: PYTHON, cancelGraceMs: 5_000, cwd: ROOT, baseEnv: BASE_ENV }) },
      apiUrl,
      runsDir,
      pollMs: 200,
      ...extra,
    },
    { connection: asBullConnection(redisConnection(stack.redisUrl)), prefix: stack.queuePrefix, concurrency: 4 },
  );
  await worker.waitUntilReady();
  return worker;
}

/**
 * Polls GET /runs/:id until `until` holds. No fixed budget: it fails only when the run makes no
 * progress (status, attempt, step, reason) for `idleMs` — a busy machine trains slower but still
 * moves — and then says where the run stood.
 */
export async function waitRun(stack: Stack, id: string, until: (r: any) => boolean, idleMs = IDLE_MS): Promise<any> {
  return waitFor(async () => (await stack.app.inject({ method: "GET", url: `/runs/${id}`, headers: { authorization: `Bearer ${stack.admin}` } })).json(), until, {
    what: `run ${id}`,
    idleMs,
    progress: (r) => [r.status, r.attempt, r.progress?.step, r.reason, r.preemptions, r.failures],
  });
}
/** How long a run may show no progress before a test gives up: a trainer start (Python, torch) on a loaded 2-core machine included. */
export const IDLE_MS = 240_000;
export const ended = (r: any) => ["succeeded", "failed", "cancelled"].includes(r.status);
