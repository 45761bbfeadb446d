import { UnrecoverableError, type Job } from "bullmq";
import { datasetPrefix, parseInputPart } from "@tokenmill/domain";
import { openInput } from "@tokenmill/storage";
import { dedupBarriers, dedupWorkPrefix, finalPass, lazyStream, runTask, type TaskResult } from "@tokenmill/curation";
import type { InputFormat } from "@tokenmill/curation";
import { type CuratorDeps, inputOptions } from "./deps.js";
import { isPermanent } from "./errors.js";
import { runSpec, taskBytes } from "./plan-run.js";

const CANCEL_POLL_MS = 1_000;
const PROGRESS_WRITE_MS = 1_000;

/**
 * Runs the pipeline over one input file (or one part of a split input). Outputs go to deterministic keys inside the dataset
 * version's folder, so a task retried after a crash (or picked up by another worker after this one
 * died) overwrites them with identical bytes; the task row is then committed exactly once.
 */
export async function processTask(deps: CuratorDeps, runId: string, taskId: string, job: Job): Promise<{ docs_in: number; docs_kept: number } | { skipped: string }> {
  const { prisma } = deps;
  const task = await prisma.curationTask.findUnique({ where: { id: taskId }, include: { run: { include: { source: true, pipeline: true } } } });
  if (!task || task.runId !== runId) throw new UnrecoverableError(`task ${taskId} of run ${runId} does not exist`);
  const { run } = task;
  const log = deps.logger.child({ runId, taskId, task: task.index, jobId: job.id });
  if (run.status === "cancelled" || run.status === "failed") {
    await prisma.curationTask.updateMany({ where: { id: taskId, status: { in: ["pending", "running"] } }, data: { status: "cancelled" } });
    return { skipped: run.status };
  }
  if (task.status === "succeeded") return { skipped: "already succeeded" };
  if (!run.fingerprint) throw new UnrecoverableError(`run ${runId} has no fingerprint; it was not planned`);

  await prisma.curationTask.update({
    where: { id: taskId },
    data: { status: "running", attempts: { increment: 1 }, workerId: deps.workerId, startedAt: new Date(), error: null },
  });

  const abort = new AbortController();
  const poll = setInterval(() => {
    prisma.curationRun
      .findUnique({ where: { id: runId }, select: { status: true } })
      .then((r) => {
        if (!r || r.status === "cancelled" || r.status === "failed") abort.abort(new Error(`run ${r?.status ?? "deleted"}`));
      })
      .catch(() => undefined);
  }, CANCEL_POLL_MS);
  let lastWrite = 0;
  const partSize = taskBytes(task);
  let result: TaskResult;
  try {
    const spec = runSpec(run);
    const prefix = datasetPrefix(run.datasetName, run.fingerprint);
    result = await runTask({
      spec,
      taskIndex: task.index,
      fingerprint: run.fingerprint,
      store: deps.store,
      prefix,
      // Pipelines with dedup steps: their drop lists, resolved by the dedup jobs before this pass.
      dedup: await finalPass(deps.store, dedupWorkPrefix(prefix), dedupBarriers(spec), task.index),
      input: lazyStream(() => openInput(task.inputUri, inputOptions(deps))),
      // Columnar inputs (Parquet, Arrow files) are read by range: footer first, then row groups.
      openRange: (start, end) => openInput(task.inputUri, inputOptions(deps), { start, end }),
      size: Number(task.bytes),
      // A split input: this task's byte range or row groups.
      part: parseInputPart(task.part),
      uri: task.inputUri,
      source: run.source.name,
      reader: { format: run.source.format as InputFormat, text_field: run.source.textField, id_field: run.source.idField },
      signal: abort.signal,
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastWrite < PROGRESS_WRITE_MS) return;
        lastWrite = now;
        void job.updateProgress(p).catch(() => undefined);
        void prisma.curationTask
          .update({ where: { id: taskId }, data: { bytesDone: Math.min(p.bytes_read, partSize), docsIn: p.docs_in, docsKept: p.docs_kept, tokensKept: p.tokens_kept } })
          .catch(() => undefined);
      },
    });
  } catch (err) {
    if (abort.signal.aborted) {
      await prisma.curationTask.updateMany({ where: { id: taskId, status: "running" }, data: { status: "cancelled" } });
      log.info("task stopped: run was cancelled");
      return { skipped: "cancelled" };
    }
    const message = err instanceof Error ? err.message : String(err);
    const lastAttempt = isPermanent(err) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    await prisma.curationTask.update({ where: { id: taskId }, data: { status: lastAttempt ? "failed" : "pending", error: message } });
    if (lastAttempt) {
      await prisma.curationRun.updateMany({
        where: { id: runId, status: { in: ["running", "finalizing"] } },
        data: { status: "failed", error: `task ${task.index} (${task.inputUri}) failed: ${message}`, finishedAt: new Date() },
      });
    }
    log.warn({ err: message, attempt: job.attemptsMade + 1, lastAttempt }, "task failed");
    throw err;
  } finally {
    clearInterval(poll);
  }

  await prisma.$transaction(async (tx) => {
    const done = await tx.curationTask.updateMany({
      where: { id: taskId, status: { not: "succeeded" } },
      data: {
        status: "succeeded",
        result: result as object,
        bytesDone: partSize,
        docsIn: result.docs_in,
        docsKept: result.docs_kept,
        tokensKept: result.tokens_kept,
        finishedAt: new Date(),
      },
    });
    if (done.count === 1) await tx.curationRun.update({ where: { id: runId }, data: { tasksDone: { increment: 1 } } });
  });
  log.info({ docs_in: result.docs_in, docs_kept: result.docs_kept, tokens: result.tokens_kept }, "task done");
  return { docs_in: result.docs_in, docs_kept: result.docs_kept };
}
