import { UnrecoverableError, type Job } from "bullmq";
import { type InputPart, parseInputPart, parsePipeline } from "@tokenmill/domain";
import { openInput } from "@tokenmill/storage";
import { countPartLines, resolveLineBases } from "@tokenmill/curation";
import { type CuratorDeps, inputOptions } from "./deps.js";
import { addFirstPass } from "./flows.js";
import { groupByInput } from "./plan-run.js";

/**
 * Line numbers of split plain-JSONL inputs. Every byte-range task but the last of its file counts
 * the newlines in its range (scan-part, in parallel across workers); scan-parts then gives each
 * range the sum of the counts before it and starts the first pass. Both only write the task's
 * `part`, with values that depend on the input's bytes alone, so a retried job writes the same.
 */
export async function scanPart(deps: CuratorDeps, runId: string, taskId: string, job: Job): Promise<{ lines: number } | { skipped: string }> {
  const task = await deps.prisma.curationTask.findUnique({ where: { id: taskId }, include: { run: { select: { status: true } } } });
  if (!task || task.runId !== runId) throw new UnrecoverableError(`task ${taskId} of run ${runId} does not exist`);
  if (task.run.status !== "running") return { skipped: task.run.status };
  const part = parseInputPart(task.part);
  if (part?.kind !== "bytes") throw new UnrecoverableError(`task ${task.index} of run ${runId} is not a byte range`);
  if (part.lines !== undefined) return { lines: part.lines };
  const input = { uri: task.inputUri, size: Number(task.bytes), openRange: (start: number, end: number) => openInput(task.inputUri, inputOptions(deps), { start, end }) };
  const lines = await countPartLines(input, part);
  await deps.prisma.curationTask.update({ where: { id: taskId }, data: { part: { ...part, lines } } });
  deps.logger.child({ runId, taskId, task: task.index, jobId: job.id }).info({ start: part.start, end: part.end, lines }, "byte range counted");
  return { lines };
}

export async function scanParts(deps: CuratorDeps, runId: string): Promise<{ tasks: number } | { skipped: string }> {
  const { prisma } = deps;
  const run = await prisma.curationRun.findUnique({ where: { id: runId }, include: { pipeline: true } });
  if (!run) throw new UnrecoverableError(`curation run ${runId} does not exist`);
  if (run.status !== "running") return { skipped: run.status };
  const tasks = await prisma.curationTask.findMany({ where: { runId }, orderBy: { index: "asc" } });
  await prisma.$transaction(async (tx) => {
    for (const group of groupByInput(tasks)) {
      const parts = group.map((t) => parseInputPart(t.part));
      if (parts.some((p) => p?.kind !== "bytes")) continue;
      const resolved = resolveLineBases(parts as InputPart[]);
      for (const [i, t] of group.entries()) await tx.curationTask.update({ where: { id: t.id }, data: { part: resolved[i] as object } });
    }
  });
  await addFirstPass(deps, runId, parsePipeline(run.pipeline.spec), tasks);
  return { tasks: tasks.length };
}
