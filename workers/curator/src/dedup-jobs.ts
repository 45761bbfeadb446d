import { UnrecoverableError, type Job } from "bullmq";
import { datasetPrefix, parseInputPart } from "@tokenmill/domain";
import { openInput } from "@tokenmill/storage";
import { collectPass, dedupBarriers, dedupWorkPrefix, defaultPartitions, lazyStream, runCluster, runPartition, runTask } from "@tokenmill/curation";
import type { InputFormat } from "@tokenmill/curation";
import { type CuratorDeps, inputOptions } from "./deps.js";
import { runSpec } from "./plan-run.js";
import { addCollectFlow, addFinalFlow, addPartitionFlow } from "./flows.js";

/**
 * The dedup stages of a run whose pipeline has dedup steps (see @tokenmill/curation dedup/passes.ts).
 * Every output has a deterministic key under the version's `_work/dedup/` prefix, so a retried or
 * re-delivered job overwrites it with the same bytes; no database row changes until the final
 * pass (process-task) and finalize-run. A job of a cancelled or failed run does nothing.
 */

const CANCEL_POLL_MS = 1_000;

async function loadRun(deps: CuratorDeps, runId: string) {
  const run = await deps.prisma.curationRun.findUnique({
    where: { id: runId },
    include: { source: true, pipeline: true, tasks: { orderBy: { index: "asc" }, select: { id: true, index: true, inputUri: true, bytes: true, part: true } } },
  });
  if (!run) throw new UnrecoverableError(`curation run ${runId} does not exist`);
  if (!run.fingerprint) throw new UnrecoverableError(`run ${runId} has no fingerprint; it was not planned`);
  const spec = runSpec(run);
  const barriers = dedupBarriers(spec);
  const prefix = datasetPrefix(run.datasetName, run.fingerprint);
  const active = run.status === "running";
  return { run, spec, barriers, prefix, work: dedupWorkPrefix(prefix), partitions: defaultPartitions(run.tasks.length), active };
}

function barrierOf(barriers: ReturnType<typeof dedupBarriers>, barrier: number, runId: string) {
  const b = barriers[barrier];
  if (!b) throw new UnrecoverableError(`run ${runId}'s pipeline has no dedup barrier ${barrier}`);
  return b;
}

/** Collect pass of one input for one barrier: records instead of shards. */
export async function dedupCollect(deps: CuratorDeps, runId: string, taskId: string, barrier: number, job: Job) {
  const ctx = await loadRun(deps, runId);
  if (!ctx.active) return { skipped: ctx.run.status };
  const task = ctx.run.tasks.find((t) => t.id === taskId);
  if (!task) throw new UnrecoverableError(`task ${taskId} of run ${runId} does not exist`);
  const b = barrierOf(ctx.barriers, barrier, runId);
  const { run } = ctx;
  // Stop between batches when the run is cancelled or fails elsewhere (as process-task does).
  const abort = new AbortController();
  const poll = setInterval(() => {
    deps.prisma.curationRun
      .findUnique({ where: { id: runId }, select: { status: true } })
      .then((r) => r?.status === "running" || abort.abort(new Error(`run ${r?.status ?? "deleted"}`)))
      .catch(() => undefined);
  }, CANCEL_POLL_MS);
  let result: Awaited<ReturnType<typeof runTask>>;
  try {
    result = await runTask({
      spec: ctx.spec,
      taskIndex: task.index,
      fingerprint: run.fingerprint!,
      store: deps.store,
      prefix: ctx.prefix,
      input: lazyStream(() => openInput(task.inputUri, inputOptions(deps))),
      // Columnar inputs (Parquet, Arrow files) are read by range: footer first, then row groups.
      openRange: (start, end) => openInput(task.inputUri, inputOptions(deps), { start, end }),
      size: Number(task.bytes),
      part: parseInputPart(task.part),
      uri: task.inputUri,
      source: run.source.name,
      reader: { format: run.source.format as InputFormat, text_field: run.source.textField, id_field: run.source.idField },
      dedup: await collectPass(deps.store, ctx.work, b, task.index, ctx.partitions),
      signal: abort.signal,
      onProgress: (p) => void job.updateProgress(p).catch(() => undefined),
    });
  } catch (err) {
    if (abort.signal.aborted) return { skipped: "cancelled" };
    throw err;
  } finally {
    clearInterval(poll);
  }
  deps.logger.child({ runId, taskId, barrier, jobId: job.id }).info({ docs: result.docs_kept }, "dedup records written");
  return { docs: result.docs_kept };
}

/** All collect jobs of a barrier are done: fan out its partitions under the cluster job. */
export async function dedupBarrier(deps: CuratorDeps, runId: string, barrier: number) {
  const ctx = await loadRun(deps, runId);
  if (!ctx.active) return { skipped: ctx.run.status };
  barrierOf(ctx.barriers, barrier, runId);
  await addPartitionFlow(deps, runId, barrier, ctx.partitions);
  return { partitions: ctx.partitions };
}

export async function dedupPartition(deps: CuratorDeps, runId: string, barrier: number, partition: number) {
  const ctx = await loadRun(deps, runId);
  if (!ctx.active) return { skipped: ctx.run.status };
  const b = barrierOf(ctx.barriers, barrier, runId);
  if (partition >= ctx.partitions) throw new UnrecoverableError(`partition ${partition} ≥ ${ctx.partitions}`);
  return runPartition({ store: deps.store, work: ctx.work, barrier, config: b.config, partition, tasks: ctx.run.tasks.length });
}

/** Resolves the barrier's drop lists, then starts the next barrier or the final pass. */
export async function dedupCluster(deps: CuratorDeps, runId: string, barrier: number, job: Job) {
  const ctx = await loadRun(deps, runId);
  if (!ctx.active) return { skipped: ctx.run.status };
  const b = barrierOf(ctx.barriers, barrier, runId);
  const out = await runCluster({ store: deps.store, work: ctx.work, barrier, config: b.config, partitions: ctx.partitions, tasks: ctx.run.tasks.length });
  if (barrier + 1 < ctx.barriers.length) await addCollectFlow(deps, runId, barrier + 1, ctx.run.tasks);
  else await addFinalFlow(deps, runId, ctx.run.tasks);
  deps.logger.child({ runId, barrier, jobId: job.id }).info(out, "dedup barrier resolved");
  return out;
}
