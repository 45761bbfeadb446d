import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Worker, type ConnectionOptions, type Job } from "bullmq";
import { jobs, LAUNCH_QUEUE, newApiToken, type MixturePlan, type Recipe } from "@tokenmill/domain";
import { buildJobSpec } from "./job-spec.js";
import { createTransition, errorMessage, TERMINAL, type LauncherDeps } from "./deps.js";
import { claimRun, Lease } from "./lease.js";
import { watchAttempts } from "./run-loop.js";
import { worldSize, type Resources } from "./backends/types.js";

export type { LauncherDeps } from "./deps.js";

/** Folder URI of a dataset version, as the trainer reads it (file:///… or s3://…). */
const versionUri = (storeUri: string, prefix: string) => `${storeUri.replace(/\/+$/, "")}/${prefix.replace(/^\/+|\/+$/g, "")}/`;

export interface LaunchProcessor {
  /** The BullMQ processor: launches a queued run, or takes over one whose watcher is gone (a re-delivered job). */
  (job: Job): Promise<void>;
  /**
   * Takes over a starting/running run whose heartbeat is stale (its launcher died): re-attaches to a
   * Slurm or Kubernetes job by its handle, or waits for a local trainer to stop at its checkpoint and
   * restarts it from there as a preemption. Resolves once the run is claimed (null: watched elsewhere,
   * ended, or not for this launcher); `done` when this launcher stops watching it.
   */
  adopt(runId: string): Promise<{ done: Promise<void> } | null>;
  /** Runs this process is watching now (the watchdog leaves them alone). */
  readonly watching: ReadonlySet<string>;
}

/**
 * The launcher's processor: builds the job spec, issues the run token, dispatches to the run's
 * backend and watches it to the end, retrying within the run's budgets. The BullMQ job is held for
 * the whole run; the run row carries the state, and its heartbeat says which launcher watches it.
 * Whatever goes wrong before the run is watched ends it `failed` with the cause: no run stays queued.
 */
export function createLaunchProcessor(deps: LauncherDeps): LaunchProcessor {
  const { prisma } = deps;
  const transition = createTransition(prisma);
  const watching = new Set<string>();
  const adoptAfterMs = deps.adoptAfterMs ?? 20_000;

  async function launch(runId: string, log: LauncherDeps["logger"]): Promise<void> {
    const run = await prisma.trainingRun.findUnique({ where: { id: runId }, include: { experiment: true } });
    if (!run) return log.warn("run vanished before launch");
    if (TERMINAL.has(run.status)) return log.info({ status: run.status }, "run ended before launch");
    // A re-delivered job (its launcher died): continue the run rather than leave it to the watchdog.
    if (run.status !== "queued") return (await adopt(runId))?.done;
    const backend = deps.backends[run.backend];
    if (!backend) {
      await transition(runId, "failed", `backend ${run.backend} is not configured on this launcher (configured: ${Object.keys(deps.backends).join(", ") || "none"})`);
      return;
    }
    const workDir = join(deps.runsDir, runId);
    const checkpointDir = join(workDir, "checkpoints");
    const logPath = join(workDir, "trainer.log");
    await mkdir(checkpointDir, { recursive: true });

    const mixture = await prisma.mixture.findUniqueOrThrow({ where: { id: run.mixtureId }, include: { components: { include: { datasetVersion: true } } } });
    const plan = mixture.plan as unknown as MixturePlan;
    const datasets: Record<string, { uri: string; manifest: unknown }> = {};
    for (const c of mixture.components) datasets[c.datasetVersion.fingerprint] = { uri: versionUri(c.datasetVersion.storeUri, c.datasetVersion.prefix), manifest: c.datasetVersion.manifest };
    const resources = run.resources as unknown as Resources;
    let spec: Record<string, unknown>;
    try {
      spec = buildJobSpec({
        runId,
        recipe: run.experiment.recipe as unknown as Recipe,
        stage: run.stage,
        plan,
        datasets,
        overrides: run.overrides as Record<string, unknown>,
        checkpointDir,
        outputDir: workDir,
        progressEndpoint: `${deps.apiUrl}/runs/${runId}/progress`,
        gpus: resources.nodes * resources.gpus_per_node,
      });
    } catch (e) {
      await transition(runId, "failed", `cannot build the job spec: ${errorMessage(e)}`);
      return;
    }
    const specPath = join(workDir, "job.json");
    await writeFile(specPath, JSON.stringify(spec, null, 2));
    const micro = spec.batch as { micro_batch_size: number; grad_accum: number };
    const G = micro.micro_batch_size * micro.grad_accum * worldSize(resources);
    const planSteps = Math.floor(plan.sequences / G);
    const totalSteps = (spec.max_steps as number | null) ? Math.min(planSteps, spec.max_steps as number) : planSteps;

    const token = newApiToken();
    const at = new Date();
    if (!(await transition(runId, "starting", `launcher picked it up (backend ${backend.name})`, { tokenHash: token.hash, jobSpec: spec as object, workDir, logPath, checkpointDir, totalSteps, heartbeatAt: at }))) {
      return log.info("run was cancelled before it started");
    }
    const readsS3 = Object.values(datasets).some((d) => d.uri.startsWith("s3://"));
    await watch(runId, { lease: new Lease(prisma, runId, at), backend, log, workDir, logPath, specPath, resources, token: token.token, readsS3, run });
  }

  async function adopt(runId: string): Promise<{ done: Promise<void> } | null> {
    const log = deps.logger.child({ runId });
    if (watching.has(runId)) return null;
    const run = await prisma.trainingRun.findUnique({ where: { id: runId } });
    const backend = run && deps.backends[run.backend];
    if (!run || !backend || !run.workDir || !run.logPath) return null;
    const lease = await claimRun(prisma, runId, new Date(Date.now() - adoptAfterMs));
    if (!lease) {
      log.info({ status: run.status }, "run is watched by another launcher (or ended)");
      return null;
    }
    log.warn({ handle: run.externalId, attempt: run.attempt }, "adopting a run whose launcher stopped heart-beating");
    const resources = run.resources as unknown as Resources;
    const w = { lease, backend, log, workDir: run.workDir, logPath: run.logPath, specPath: join(run.workDir, "job.json"), resources, run, handle: run.externalId ?? undefined, readsS3: JSON.stringify(run.jobSpec ?? {}).includes('"s3://') };
    return { done: guard(runId, log, () => watch(runId, w)) };
  }

  async function watch(runId: string, w: Omit<Parameters<typeof watchAttempts>[1], "runId" | "retry" | "attempt" | "failures" | "preemptions"> & { run: { retry: unknown; attempt: number; failures: number; preemptions: number } }) {
    watching.add(runId);
    try {
      const { run, ...rest } = w;
      const retry = run.retry as { max_preemptions: number; max_failures: number };
      await watchAttempts(deps, { ...rest, runId, retry, attempt: run.attempt, failures: run.failures, preemptions: run.preemptions }, transition);
    } finally {
      watching.delete(runId);
    }
  }

  /** A failure of the launcher itself (database, disk, a bug): the run ends failed with the cause, never stays queued or starting. */
  async function guard(runId: string, log: LauncherDeps["logger"], work: () => Promise<void>) {
    try {
      await work();
    } catch (e) {
      log.error({ err: e }, "launcher error");
      // If this cannot be recorded either (database down), the job fails and the watchdog picks the run up.
      if (!(await transition(runId, "failed", `launcher error: ${errorMessage(e)}`))) return;
      // Nothing may keep training for a run marked failed.
      const run = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { backend: true, externalId: true } });
      const backend = run?.externalId ? deps.backends[run.backend] : undefined;
      if (backend) await backend.cancel(run!.externalId!).catch((err) => log.error({ err }, "cannot cancel the job of a failed run"));
    }
  }

  const processor = (async (job: Job) => {
    const { runId } = jobs.launchRun.parse(job.data);
    const log = deps.logger.child({ runId, jobId: job.id });
    await guard(runId, log, () => launch(runId, log));
  }) as LaunchProcessor;
  processor.adopt = adopt;
  Object.defineProperty(processor, "watching", { value: watching });
  return processor;
}

export interface LaunchWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
}

/** The BullMQ worker of the launch queue; `processor` is its processor, whose adopt() the watchdog calls. */
export function createLaunchWorker(deps: LauncherDeps, opts: LaunchWorkerOptions, processor = createLaunchProcessor(deps)): Worker {
  const worker = new Worker(LAUNCH_QUEUE, processor, {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    // A watched run holds its job for hours; BullMQ renews the lock while this process lives.
    lockDuration: 60_000,
  });
  worker.on("failed", (job, err) => deps.logger.error({ jobId: job?.id, err }, "launch job failed"));
  return worker;
}
