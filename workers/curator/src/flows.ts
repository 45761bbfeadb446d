import { CURATION_QUEUE, jobs, type PipelineSpec } from "@tokenmill/domain";
import { dedupBarriers } from "@tokenmill/curation";
import { jobOptions } from "@tokenmill/queues";
import type { CuratorDeps } from "./deps.js";

interface TaskRef {
  id: string;
}

/**
 * The flows of a run. BullMQ flows are trees (a child has one parent), so a many-to-many barrier
 * is two flows: the collect jobs under a dedup-barrier job, which then adds the partition jobs
 * under a dedup-cluster job, which adds the next stage. Job ids are deterministic, so a retried
 * job that adds a stage again adds nothing new.
 */

/** Line counting of split plain-JSONL inputs: one scan-part job per byte range under scan-parts. */
export async function addScanFlow(deps: CuratorDeps, runId: string, tasks: TaskRef[]): Promise<void> {
  await deps.queues.flows.add({
    name: jobs.scanParts.name,
    queueName: CURATION_QUEUE,
    data: { runId },
    opts: jobOptions(jobs.scanParts, `scan-parts-${runId}`),
    children: tasks.map((t) => ({
      name: jobs.scanPart.name,
      queueName: CURATION_QUEUE,
      data: { runId, taskId: t.id },
      opts: jobOptions(jobs.scanPart, `scan-part-${t.id}`, { failParentOnFailure: true }),
    })),
  });
}

/** The first pass over the tasks: barrier 0's collect pass when the pipeline has dedup steps, else the final pass. */
export async function addFirstPass(deps: CuratorDeps, runId: string, spec: PipelineSpec, tasks: TaskRef[]): Promise<void> {
  if (dedupBarriers(spec).length === 0) await addFinalFlow(deps, runId, tasks);
  else await addCollectFlow(deps, runId, 0, tasks);
}

/** The final pass: one process-task job per task under finalize-run (the only stage without dedup). */
export async function addFinalFlow(deps: CuratorDeps, runId: string, tasks: TaskRef[]): Promise<void> {
  await deps.queues.flows.add({
    name: jobs.finalizeRun.name,
    queueName: CURATION_QUEUE,
    data: { runId },
    opts: jobOptions(jobs.finalizeRun, `finalize-${runId}`),
    children: tasks.map((t) => ({
      name: jobs.processTask.name,
      queueName: CURATION_QUEUE,
      data: { runId, taskId: t.id },
      opts: jobOptions(jobs.processTask, `task-${t.id}`, { failParentOnFailure: true }),
    })),
  });
}

/** A dedup barrier's collect pass: one dedup-collect job per input under a dedup-barrier job. */
export async function addCollectFlow(deps: CuratorDeps, runId: string, barrier: number, tasks: TaskRef[]): Promise<void> {
  await deps.queues.flows.add({
    name: jobs.dedupBarrier.name,
    queueName: CURATION_QUEUE,
    data: { runId, barrier },
    opts: jobOptions(jobs.dedupBarrier, `dedup-barrier-${runId}-${barrier}`),
    children: tasks.map((t) => ({
      name: jobs.dedupCollect.name,
      queueName: CURATION_QUEUE,
      data: { runId, taskId: t.id, barrier },
      opts: jobOptions(jobs.dedupCollect, `dedup-collect-${t.id}-${barrier}`, { failParentOnFailure: true }),
    })),
  });
}

/** A dedup barrier's partition jobs under its cluster job. */
export async function addPartitionFlow(deps: CuratorDeps, runId: string, barrier: number, partitions: number): Promise<void> {
  await deps.queues.flows.add({
    name: jobs.dedupCluster.name,
    queueName: CURATION_QUEUE,
    data: { runId, barrier },
    opts: jobOptions(jobs.dedupCluster, `dedup-cluster-${runId}-${barrier}`),
    children: Array.from({ length: partitions }, (_, partition) => ({
      name: jobs.dedupPartition.name,
      queueName: CURATION_QUEUE,
      data: { runId, barrier, partition },
      opts: jobOptions(jobs.dedupPartition, `dedup-partition-${runId}-${barrier}-${partition}`, { failParentOnFailure: true }),
    })),
  });
}
