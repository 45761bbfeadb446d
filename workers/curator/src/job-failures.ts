import { UnrecoverableError, type Job } from "bullmq";
import { jobs } from "@tokenmill/domain";
import type { CuratorDeps } from "./deps.js";

const ACTIVE = ["queued", "planning", "running", "finalizing"] as const;

/**
 * Whether BullMQ is done with a job that just failed: no attempt left, an UnrecoverableError, or
 * a failure BullMQ decided alone (a job stalled more than maxStalledCount times is failed with an
 * UnrecoverableError when next fetched). moveToFailed sets finishedOn only when it does not retry.
 */
export function isTerminalFailure(job: Job, err: Error): boolean {
  if (err instanceof UnrecoverableError || err.name === "UnrecoverableError") return true;
  if (typeof job.finishedOn === "number" && job.finishedOn > 0) return true;
  return job.attemptsMade >= (job.opts.attempts ?? 1);
}

/** Ends a run as failed with the reason, unless it already ended (the first reason wins). */
export async function failRun(deps: CuratorDeps, runId: string, error: string): Promise<boolean> {
  const moved = await deps.prisma.curationRun.updateMany({
    where: { id: runId, status: { in: [...ACTIVE] } },
    data: { status: "failed", error, finishedAt: new Date() },
  });
  return moved.count === 1;
}

/**
 * The worker's `failed` event: every job failure BullMQ will not retry ends the job's run as
 * `failed` with the job and the cause — including failures that never reach the processor's catch
 * (a job stalled more than allowed, as after repeated worker crashes), which would otherwise leave
 * the run `running` behind a failed parent flow. A failed process-task also marks its task failed.
 */
export async function onJobFailed(deps: CuratorDeps, job: Job | undefined, err: Error): Promise<void> {
  if (!job || !isTerminalFailure(job, err)) return;
  const data = job.data as { runId?: unknown; taskId?: unknown };
  if (typeof data.runId !== "string") return;
  // A parent failed by its child (failParentOnFailure) reports the child's cause, whichever of
  // the two failure events is handled first.
  const cause = (await failedChild(deps, err)) ?? { job, message: err.message };
  const reason = `${await describeJob(deps, cause.job)} failed for good: ${cause.message}`;
  if (cause.job.name === jobs.processTask.name && typeof cause.job.data?.taskId === "string") {
    await deps.prisma.curationTask.updateMany({ where: { id: cause.job.data.taskId, status: { in: ["pending", "running"] } }, data: { status: "failed", error: cause.message } });
  }
  if (await failRun(deps, data.runId, reason)) {
    deps.logger.warn({ runId: data.runId, jobId: job.id, name: job.name, err: reason }, "run failed: a job failed for good");
  }
}

/** The child a "child <queue key>:<job id> failed" error names, with its own failure reason. */
async function failedChild(deps: CuratorDeps, err: Error): Promise<{ job: Job; message: string } | undefined> {
  const m = /^child (.+) failed$/.exec(err.message);
  const queueKey = `${deps.queues.curation.qualifiedName}:`;
  if (!m || !m[1]!.startsWith(queueKey)) return undefined;
  const child = await deps.queues.curation.getJob(m[1]!.slice(queueKey.length));
  return child ? { job: child, message: child.failedReason || err.message } : undefined;
}

/** A job as a run's error names it: the task and its file for per-task jobs. */
async function describeJob(deps: CuratorDeps, job: Job): Promise<string> {
  const taskId = (job.data as { taskId?: unknown }).taskId;
  if (typeof taskId === "string") {
    const task = await deps.prisma.curationTask.findUnique({ where: { id: taskId }, select: { index: true, inputUri: true } });
    if (task) return `${job.name} of task ${task.index} (${task.inputUri})`;
  }
  return `${job.name} (job ${job.id})`;
}
