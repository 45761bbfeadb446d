import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { newApiToken } from "@tokenmill/domain";
import { attemptOutcome, logTail, TRAIN_LOG } from "./attempt-log.js";
import { errorMessage, sleep, TERMINAL, type LauncherDeps, type Transition } from "./deps.js";
import type { Lease } from "./lease.js";
import type { Backend, JobState, Resources } from "./backends/types.js";

/** One watched run: where it lives, its budgets and counters, and the job already out there when adopting one. */
export interface Watch {
  runId: string;
  backend: Backend;
  lease: Lease;
  log: Logger;
  workDir: string;
  logPath: string;
  specPath: string;
  resources: Resources;
  retry: { max_preemptions: number; max_failures: number };
  /** The last attempt dispatched (0 before the first). */
  attempt: number;
  failures: number;
  preemptions: number;
  /** The current attempt's job, when adopting a run another launcher was watching. */
  handle?: string;
  /** The run token, when this launcher issued it; an adopted run gets a new one with its next attempt. */
  token?: string;
  /** Whether the run reads dataset versions from s3:// (then, and only then, the trainer gets deps.trainerEnv's S3 keys). */
  readsS3: boolean;
}

type Stopped = { stopped: true };

/**
 * Dispatches attempts of a run and watches each to its end, retrying within the run's budgets
 * (preemption and trainer failure counted apart), until the run ends or another launcher takes it over.
 */
export async function watchAttempts(deps: LauncherDeps, w: Watch, transition: Transition): Promise<void> {
  const { prisma } = deps;
  const { runId, backend, log, workDir, retry } = w;
  let { attempt, failures, preemptions, handle, token } = w;
  // An adopted attempt's log starts wherever that trainer started: its last `start` event decides.
  let logFrom = 0;
  for (;;) {
    if (handle === undefined) {
      attempt++;
      // The trainer's log grows across attempts: this attempt's events are those after this offset.
      logFrom = await stat(join(workDir, TRAIN_LOG)).then((s) => s.size, () => 0);
      if (!token) {
        const t = newApiToken();
        await prisma.trainingRun.update({ where: { id: runId }, data: { tokenHash: t.hash } });
        token = t.token;
      }
      try {
        const dispatch = { runId, attempt, specPath: w.specPath, workDir, logPath: w.logPath, env: { ...(w.readsS3 ? deps.trainerEnv : {}), TOKENMILL_RUN_TOKEN: token }, resources: w.resources };
        handle = await w.lease.during(backend.submit(dispatch), deps.pollMs);
      } catch (e) {
        log.warn({ err: e }, "dispatch failed");
        await transition(runId, "failed", `dispatch to ${backend.name} failed: ${errorMessage(e)}`);
        return;
      }
      log.info({ handle, attempt }, "dispatched");
      await prisma.trainingRun.update({ where: { id: runId }, data: { externalId: handle, attempt, startedAt: new Date() } });
    }
    const st = await watchJob(deps, w, handle, attempt, preemptions, transition);
    if ("stopped" in st) return;
    preemptions = st.preemptions;
    const job = st.state;
    const jobHandle = handle;
    handle = undefined;
    if (job.fatal) {
      await backend.cancel(jobHandle);
      await transition(runId, "failed", job.reason);
      return;
    }
    const trainer = await attemptOutcome(workDir, logFrom);
    // A trainer that was not this launcher's child has no exit code to read: its log says whether it finished.
    if ((job.exitCode === 0 || job.orphaned) && trainer.done && trainer.preemptedAt === undefined) {
      await transition(runId, "succeeded", job.reason, { exitCode: job.exitCode ?? 0 });
      return;
    }
    // The trainer checkpointed on SIGTERM (preemption, time limit, its launcher gone): a preemption
    // whatever the exit code of what ran it (a launcher such as torchrun exits non-zero once it got the
    // signal too). Exit 0 without a `done` line is read the same way.
    const preempted = job.preempted || job.exitCode === 0 || trainer.preemptedAt !== undefined;
    const why =
      trainer.preemptedAt !== undefined
        ? `${job.reason} after the trainer checkpointed at step ${trainer.preemptedAt} on SIGTERM (${job.orphaned ? "its launcher was lost" : "preempted or time limit"})`
        : job.exitCode === 0
          ? `${job.reason} after a checkpoint on SIGTERM (preempted or time limit)`
          : job.reason;
    if (preempted) preemptions++;
    else failures++;
    const budgetLeft = preempted ? preemptions <= retry.max_preemptions : failures <= retry.max_failures;
    await prisma.trainingRun.update({ where: { id: runId }, data: { failures, preemptions, exitCode: job.exitCode } });
    if (!budgetLeft) {
      const budget = preempted ? `preemption budget ${retry.max_preemptions}` : `failure budget ${retry.max_failures}`;
      const tail = await logTail(w.logPath);
      await transition(runId, "failed", `${why}${tail ? `: ${tail}` : ""} (${budget} spent)`);
      return;
    }
    if (!(await transition(runId, "starting", `retrying after ${why} (${preempted ? `preemption ${preemptions}/${retry.max_preemptions}` : `failure ${failures}/${retry.max_failures}`}); resumes from the last checkpoint`))) return;
  }
}

/**
 * Polls one job until it exits. Stops (and cancels the job) when the run ended meanwhile (a cancel,
 * the watchdog); stops without touching the job when another launcher took the run over (a local
 * trainer, a child of this process, is stopped though: the new watcher restarts it from its checkpoint).
 * A backend or database that fails to answer is retried with backoff for `pollFailMs`; past that,
 * the job is cancelled so that nothing keeps running for a run marked failed.
 */
async function watchJob(deps: LauncherDeps, w: Watch, handle: string, attempt: number, preemptions: number, transition: Transition): Promise<{ state: Extract<JobState, { state: "exited" }>; preemptions: number } | Stopped> {
  const { prisma } = deps;
  const { runId, backend, log, retry } = w;
  const pollFailMs = deps.pollFailMs ?? 300_000;
  // Scheduler requeues counted so far; an adopted job's count is read from its first poll.
  let restarts: number | undefined = w.handle === handle ? undefined : 0;
  let startedRunning = w.handle === handle && (await prisma.trainingRun.findUnique({ where: { id: runId }, select: { status: true } }))?.status === "running";
  let failingSince: number | undefined;
  let backoff = deps.pollMs;
  for (;;) {
    let st: JobState;
    try {
      const cur = await prisma.trainingRun.findUnique({ where: { id: runId }, select: { status: true } });
      if (!cur || TERMINAL.has(cur.status)) {
        log.info({ handle, status: cur?.status }, "the run ended outside this launcher: stopping its job");
        await w.lease.during(backend.cancel(handle), deps.pollMs);
        return { stopped: true };
      }
      if (!(await w.lease.beat())) {
        log.warn({ handle }, "another launcher took the run over: this one stops watching it");
        if (!backend.survivesLauncher) await backend.cancel(handle);
        return { stopped: true };
      }
      st = await backend.poll(handle);
      failingSince = undefined;
      backoff = deps.pollMs;
    } catch (e) {
      const now = Date.now();
      failingSince ??= now;
      if (now - failingSince > pollFailMs) {
        const reason = `lost track of ${backend.name} job ${handle} for ${Math.round((now - failingSince) / 1000)} s (${errorMessage(e)}); the job was cancelled`;
        log.error({ err: e, handle }, "polling kept failing: cancelling the job");
        await backend.cancel(handle).catch((err) => log.error({ err, handle }, "cancel failed too"));
        await transition(runId, "failed", reason).catch((err) => log.error({ err }, "cannot record the failure"));
        return { stopped: true };
      }
      log.warn({ err: e, handle, retryInMs: backoff }, "poll failed: retrying");
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 30_000);
      continue;
    }
    if (st.state === "exited") return { state: st, preemptions };
    restarts ??= st.restarts ?? 0;
    if (st.restarts !== undefined && st.restarts > restarts) {
      // The scheduler requeued the job itself (preemption, node failure): same job, resumes from its checkpoint.
      preemptions += st.restarts - restarts;
      restarts = st.restarts;
      await prisma.trainingRun.update({ where: { id: runId }, data: { preemptions } });
      if (preemptions > retry.max_preemptions) {
        await backend.cancel(handle);
        await transition(runId, "failed", `${backend.name} job ${handle} requeued ${restarts} time(s) (preemption budget ${retry.max_preemptions} spent)`);
        return { stopped: true };
      }
      startedRunning = false;
      if (!(await transition(runId, "starting", `${backend.name} requeued job ${handle} (restart ${restarts}, preemption ${preemptions}/${retry.max_preemptions}); it resumes from the last checkpoint`))) continue;
    }
    if (st.state === "running" && !startedRunning) {
      startedRunning = true;
      await transition(runId, "running", `${backend.name} job ${handle} running (attempt ${attempt})`);
    }
    await sleep(deps.pollMs);
  }
}
