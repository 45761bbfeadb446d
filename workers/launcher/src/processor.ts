import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Worker, type ConnectionOptions, type Job } from "bullmq";
import type { Logger } from "pino";
import type { PrismaClient } from "@tokenmill/db";
import { jobs, LAUNCH_QUEUE, newApiToken, type MixturePlan, type Recipe } from "@tokenmill/domain";
import { buildJobSpec } from "./job-spec.js";
import { worldSize, type Backend, type JobState, type Resources } from "./backends/types.js";

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
    const resources = run.resources as unknown as Resources;
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
    const G = micro.micro_batch_size * micro.grad_accum * worldSize(resources);
    const planSteps = Math.floor(plan.sequences / G);
    const totalSteps = (spec.max_steps as number | null) ? Math.min(planSteps, spec.max_steps as number) : planSteps;

    const token = newApiToken();
    if (!(await transition(runId, "starting", `launcher picked it up (backend ${backend.name})`, { tokenHash: token.hash, jobSpec: spec as object, workDir, logPath, checkpointDir, totalSteps, heartbeatAt: new Date() }))) {
      return log.info("run was cancelled before it started");
    }

    let { failures, preemptions } = run;
    for (let attempt = run.attempt + 1; ; attempt++) {
      // The trainer's log grows across attempts: this attempt's events are those after this offset.
      const logFrom = await stat(join(workDir, TRAIN_LOG)).then((s) => s.size, () => 0);
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
      const trainer = await attemptOutcome(workDir, logFrom);
      if (st.exitCode === 0 && trainer.done && trainer.preemptedAt === undefined) {
        await transition(runId, "succeeded", st.reason, { exitCode: 0 });
        return;
      }
      // The trainer checkpointed on SIGTERM (preemption, time limit): a preemption whatever the exit
      // code of what ran it (a launcher such as torchrun exits non-zero once it got the signal too).
      // Exit 0 without a `done` line is read the same way.
      const preempted = st.preempted || st.exitCode === 0 || trainer.preemptedAt !== undefined;
      const why =
        trainer.preemptedAt !== undefined
          ? `${st.reason} after the trainer checkpointed at step ${trainer.preemptedAt} on SIGTERM (preempted or time limit)`
          : st.exitCode === 0
            ? `${st.reason} after a checkpoint on SIGTERM (preempted or time limit)`
            : st.reason;
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

const TRAIN_LOG = "train.log.jsonl";

/**
 * What the trainer logged in one attempt (its JSON-line log from byte `from` on; of the last trainer
 * start when the scheduler requeued the job within the attempt): `done` when it reached its last
 * step, `preempted` (with the step) when it stopped at a checkpoint on SIGTERM.
 */
async function attemptOutcome(workDir: string, from: number): Promise<{ done: boolean; preemptedAt?: number }> {
  let text: string;
  try {
    text = (await readFile(join(workDir, TRAIN_LOG))).subarray(from).toString("utf8");
  } catch {
    return { done: false };
  }
  let done = false;
  let preemptedAt: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const ev = JSON.parse(line) as { event?: string; step?: number };
      // A job the scheduler requeued ran the trainer again within this attempt: the last run decides.
      if (ev.event === "start") {
        done = false;
        preemptedAt = undefined;
      }
      if (ev.event === "done") done = true;
      if (ev.event === "preempted") preemptedAt = ev.step ?? 0;
    } catch {
      // a line cut short by a kill: the events before it still count
    }
  }
  return { done, ...(preemptedAt !== undefined ? { preemptedAt } : {}) };
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
