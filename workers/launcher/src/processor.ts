import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import type { PrismaClient } from "@tokenmill/db";
import { jobs, LAUNCH_QUEUE, newApiToken, type MixturePlan, type Recipe } from "@tokenmill/domain";
import { buildJobSpec } from "./job-spec.js";
import type { Backend, JobState } from "./backends/types.js";

export interface LauncherDeps {
  prisma: PrismaClient;
  logger: Logger;
  /** Backends by name (local | slurm | kubernetes); a run naming a missing one fails with a reason. */
  backends: Record<string, Backend>;
  apiUrl: string;
  runsDir: string;
  pollMs: number;
  /** Extra environment for every trainer (e.g. S3 credentials for s3:// dataset versions). */
  trainerEnv?: Record<string, string>;
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Folder URI of a dataset version, as the trainer reads it (file:///… or s3://…). */
const versionUri = (storeUri: string, prefix: string) => `${storeUri.replace(/\/+$/, "")}/${prefix.replace(/^\/+|\/+$/g, "")}/`;

/**
 * The launcher's processor: builds the job spec, issues the run token, dispatches to the run's
 * backend and watches it to the end, retrying within the run's budgets (preemption and trainer
 * failure counted apart). The BullMQ job is held for the whole run; the run row carries the state.
 */
export function createLaunchProcessor(deps: LauncherDeps) {
  const { prisma } = deps;

  /** Moves a run to `status` unless it already ended (a cancel wins over whatever the launcher saw). */
  async function transition(runId: string, status: "starting" | "running" | "succeeded" | "failed" | "cancelled", reason: string | null, data: Record<string, unknown> = {}): Promise<boolean> {
    const ended = TERMINAL.has(status);
    const n = await prisma.trainingRun.updateMany({
      where: { id: runId, status: { notIn: ["succeeded", "failed", "cancelled"] } },
      data: { status, reason, ...(ended ? { finishedAt: new Date() } : {}), ...data },
    });
    if (n.count) await prisma.runEvent.create({ data: { runId, status, reason } });
    return n.count > 0;
  }

  return async function process(job: Job): Promise<void> {
    const { runId } = jobs.launchRun.parse(job.data);
    const log = deps.logger.child({ runId, jobId: job.id });
    const run = await prisma.trainingRun.findUnique({ where: { id: runId }, include: { experiment: true } });
    if (!run) return log.warn("run vanished before launch");
    if (TERMINAL.has(run.status)) return log.info({ status: run.status }, "run ended before launch");
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
    const resources = run.resources as { nodes: number; gpus_per_node: number; time_limit_s?: number };
    const retry = run.retry as { max_preemptions: number; max_failures: number };
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
      await transition(runId, "failed", `cannot build the job spec: ${(e as Error).message}`);
      return;
    }
    const specPath = join(workDir, "job.json");
    await writeFile(specPath, JSON.stringify(spec, null, 2));
    const micro = (spec.batch as { micro_batch_size: number; grad_accum: number });
    const G = micro.micro_batch_size * micro.grad_accum * Math.max(1, resources.nodes * resources.gpus_per_node);
    const planSteps = Math.floor(plan.sequences / G);
    const totalSteps = (spec.max_steps as number | null) ? Math.min(planSteps, spec.max_steps as number) : planSteps;

    const token = newApiToken();
    if (!(await transition(runId, "starting", `launcher picked it up (backend ${backend.name})`, { tokenHash: token.hash, jobSpec: spec as object, workDir, logPath, checkpointDir, totalSteps, heartbeatAt: new Date() }))) {
      return log.info("run was cancelled before it started");
    }

    let { failures, preemptions } = run;
    for (let attempt = run.attempt + 1; ; attempt++) {
      let handle: string;
      try {
        handle = await backend.submit({ runId, attempt, specPath, workDir, logPath, env: { ...deps.trainerEnv, TOKENMILL_RUN_TOKEN: token.token }, resources });
      } catch (e) {
        log.warn({ err: e }, "dispatch failed");
        await transition(runId, "failed", `dispatch to ${backend.name} failed: ${(e as Error).message}`);
        return;
      }
      log.info({ handle, attempt }, "dispatched");
      await prisma.trainingRun.update({ where: { id: runId }, data: { externalId: handle, attempt, startedAt: new Date(), heartbeatAt: new Date() } });
      let startedRunning = false;
      let restarts = 0;
      let st: JobState;
      for (;;) {
        const cur = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { status: true } });
        if (!cur || cur.status === "cancelled") {
          log.info({ handle }, "cancel requested: stopping the job");
          await backend.cancel(handle);
          return;
        }
        st = await backend.poll(handle);
        if (st.state === "exited") break;
        if (st.restarts !== undefined && st.restarts > restarts) {
          // The scheduler requeued the job itself (preemption, node failure): same job, resumes from its checkpoint.
          preemptions += st.restarts - restarts;
          restarts = st.restarts;
          await prisma.trainingRun.update({ where: { id: runId }, data: { preemptions } });
          if (preemptions > retry.max_preemptions) {
            await backend.cancel(handle);
            await transition(runId, "failed", `${backend.name} job ${handle} requeued ${restarts} time(s) (preemption budget ${retry.max_preemptions} spent)`);
            return;
          }
          startedRunning = false;
          if (!(await transition(runId, "starting", `${backend.name} requeued job ${handle} (restart ${restarts}, preemption ${preemptions}/${retry.max_preemptions}); it resumes from the last checkpoint`))) continue;
        }
        const now = new Date();
        if (st.state === "running" && !startedRunning) {
          startedRunning = true;
          await transition(runId, "running", `${backend.name} job ${handle} running (attempt ${attempt})`, { heartbeatAt: now });
        } else {
          await prisma.trainingRun.updateMany({ where: { id: runId }, data: { heartbeatAt: now } });
        }
        await sleep(deps.pollMs);
      }
      if (st.fatal) {
        await backend.cancel(handle);
        await transition(runId, "failed", st.reason);
        return;
      }
      const finished = await finishedCleanly(workDir);
      if (st.exitCode === 0 && finished) {
        await transition(runId, "succeeded", st.reason, { exitCode: 0 });
        return;
      }
      // Exit 0 without a `done` line: the trainer checkpointed on SIGTERM (preemption, time limit).
      const preempted = st.preempted || st.exitCode === 0;
      const why = st.exitCode === 0 ? `${st.reason} after a checkpoint on SIGTERM (preempted or time limit)` : st.reason;
      if (preempted) preemptions++;
      else failures++;
      const budgetLeft = preempted ? preemptions <= retry.max_preemptions : failures <= retry.max_failures;
      await prisma.trainingRun.update({ where: { id: runId }, data: { failures, preemptions, exitCode: st.exitCode } });
      if (!budgetLeft) {
        const budget = preempted ? `preemption budget ${retry.max_preemptions}` : `failure budget ${retry.max_failures}`;
        await transition(runId, "failed", `${why}${(await logTail(logPath)) ? `: ${await logTail(logPath)}` : ""} (${budget} spent)`);
        return;
      }
      if (!(await transition(runId, "starting", `retrying after ${why} (${preempted ? `preemption ${preemptions}/${retry.max_preemptions}` : `failure ${failures}/${retry.max_failures}`}); resumes from the last checkpoint`))) return;
    }
  };
}

/** The trainer logs `done` when it reached its last step (not after a SIGTERM checkpoint). */
async function finishedCleanly(workDir: string): Promise<boolean> {
  try {
    const lines = (await readFile(join(workDir, "train.log.jsonl"), "utf8")).trim().split("\n");
    const events = lines.slice(-5).map((l) => (JSON.parse(l) as { event: string }).event);
    return events.includes("done") && !events.includes("preempted");
  } catch {
    return false;
  }
}

/** The last meaningful line of the trainer's output (a Python error, usually), for the run's reason. */
async function logTail(path: string): Promise<string> {
  try {
    // Skips JSON log lines and the launcher's and Slurm's own chatter around the trainer's message.
    const lines = (await readFile(path, "utf8")).trim().split("\n").filter((l) => l.trim() && !l.startsWith("{") && !/^(srun|slurmstepd|sbatch|tokenmill):/.test(l));
    return (lines.at(-1) ?? "").slice(0, 500);
  } catch {
    return "";
  }
}

export interface LaunchWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
}

export function createLaunchWorker(deps: LauncherDeps, opts: LaunchWorkerOptions): Worker {
  const worker = new Worker(LAUNCH_QUEUE, createLaunchProcessor(deps), {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    // A watched run holds its job for hours; BullMQ renews the lock while this process lives.
    lockDuration: 60_000,
  });
  worker.on("failed", (job, err) => deps.logger.error({ jobId: job?.id, err }, "launch job failed"));
  return worker;
}
