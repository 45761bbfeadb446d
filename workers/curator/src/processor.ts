import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { CURATION_QUEUE, jobs } from "@tokenmill/domain";
import { isPermanent } from "./errors.js";
import { failRun, onJobFailed } from "./job-failures.js";
import { trackJobProgress } from "./watchdog.js";
import type { CuratorDeps } from "./deps.js";
import { planRun } from "./plan-run.js";
import { processTask } from "./process-task.js";
import { finalizeRun } from "./finalize-run.js";
import { dedupBarrier, dedupCluster, dedupCollect, dedupPartition } from "./dedup-jobs.js";
import { scanPart, scanParts } from "./scan-parts.js";

/**
 * The curation queue's processor: parses the payload on its first line with the job catalog and
 * dispatches by job name. Domain errors (bad input, missing rows) are permanent; anything else is
 * retried with the catalog's backoff. Any job that fails for good — here, or in BullMQ alone (a
 * job stalled too often) through the worker's `failed` event — fails its run with the reason, so
 * no run is left `running` behind a flow that can no longer finish (job-failures.ts).
 */
export function createCurationProcessor(deps: CuratorDeps) {
  return async (job: Job) => {
    const stopTracking = trackJobProgress(deps, job);
    try {
      switch (job.name) {
        case jobs.planRun.name:
          return await planRun(deps, jobs.planRun.parse(job.data).runId, job);
        case jobs.scanPart.name: {
          const { runId, taskId } = jobs.scanPart.parse(job.data);
          return await scanPart(deps, runId, taskId, job);
        }
        case jobs.scanParts.name:
          return await scanParts(deps, jobs.scanParts.parse(job.data).runId);
        case jobs.processTask.name: {
          const { runId, taskId } = jobs.processTask.parse(job.data);
          return await processTask(deps, runId, taskId, job);
        }
        case jobs.dedupCollect.name: {
          const { runId, taskId, barrier } = jobs.dedupCollect.parse(job.data);
          return await dedupCollect(deps, runId, taskId, barrier, job);
        }
        case jobs.dedupBarrier.name: {
          const { runId, barrier } = jobs.dedupBarrier.parse(job.data);
          return await dedupBarrier(deps, runId, barrier);
        }
        case jobs.dedupPartition.name: {
          const { runId, barrier, partition } = jobs.dedupPartition.parse(job.data);
          return await dedupPartition(deps, runId, barrier, partition);
        }
        case jobs.dedupCluster.name: {
          const { runId, barrier } = jobs.dedupCluster.parse(job.data);
          return await dedupCluster(deps, runId, barrier, job);
        }
        case jobs.finalizeRun.name:
          return await finalizeRun(deps, jobs.finalizeRun.parse(job.data).runId, job);
        default:
          throw new UnrecoverableError(`unknown job "${job.name}" on queue ${CURATION_QUEUE}`);
      }
    } catch (err) {
      const permanent = isPermanent(err);
      const last = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      // Failed here, before BullMQ fails the job (and its parent flow), so the run reads failed first.
      const runId = (job.data as { runId?: unknown }).runId;
      if (last && job.name !== jobs.processTask.name && typeof runId === "string") {
        await failRun(deps, runId, `${job.name} failed: ${(err as Error).message}`).catch(() => undefined);
      }
      if (permanent && !(err instanceof UnrecoverableError)) throw new UnrecoverableError((err as Error).message);
      throw err;
    } finally {
      stopTracking();
    }
  };
}

export interface WorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
}

export function createCurationWorker(deps: CuratorDeps, opts: WorkerOptions): Worker {
  const worker = new Worker(CURATION_QUEUE, createCurationProcessor(deps), {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockDurationMs,
    stalledInterval: opts.stalledIntervalMs,
    // A task whose worker died is handed to another worker instead of failing the run.
    maxStalledCount: 3,
  });
  worker.on("failed", (job, err) => {
    deps.logger.warn({ jobId: job?.id, name: job?.name, err: err.message }, "job failed");
    void onJobFailed(deps, job, err).catch((e: Error) => deps.logger.error({ jobId: job?.id, err: e.message }, "could not fail the job's run"));
  });
  worker.on("error", (err) => deps.logger.error({ err: err.message }, "worker error"));
  return worker;
}

