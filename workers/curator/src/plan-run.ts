import { UnrecoverableError, type Job } from "bullmq";
import {
  datasetPrefix,
  parsePipeline,
  type InputIdentity,
  type InputPart,
  parseInputPart,
  partBytes,
  type Stats,
  UnreachableError,
  ValidationError,
} from "@tokenmill/domain";
import { inputIdentity, listInputs, openInput } from "@tokenmill/storage";
import { guardPipelinePaths, type InputFormat, partsToCount, planCuration, planParts } from "@tokenmill/curation";
import { type CuratorDeps, inputOptions } from "./deps.js";
import { addFirstPass, addScanFlow } from "./flows.js";
import { stepStatRows } from "./step-stats.js";

/**
 * Lists the source's files, fingerprints the would-be dataset version and fans out one task per
 * file (per part of a file larger than the pipeline's split_bytes) under a finalize job (a BullMQ
 * flow: finalize runs once every task has completed). Split plain-JSONL files first get their byte
 * ranges' lines counted (scan-parts). An identical version that already exists is reused instead
 * of being computed again.
 */
export async function planRun(deps: CuratorDeps, runId: string, job: Job): Promise<{ tasks: number; reused: boolean }> {
  const { prisma, store } = deps;
  const log = deps.logger.child({ runId, jobId: job.id });
  const run = await prisma.curationRun.findUnique({ where: { id: runId }, include: { source: true, pipeline: true } });
  if (!run) throw new UnrecoverableError(`curation run ${runId} does not exist`);
  if (run.status !== "queued" && run.status !== "planning") {
    log.info({ status: run.status }, "run is past planning; nothing to do");
    return { tasks: run.tasksTotal, reused: run.reusedVersion };
  }
  await prisma.curationRun.update({ where: { id: runId }, data: { status: "planning", startedAt: run.startedAt ?? new Date() } });

  const spec = parsePipeline(run.pipeline.spec);
  // The guard's current settings, not those at registration: nothing is read that they refuse.
  await guardPipelinePaths(spec, deps.sourcePolicy);
  const files = await listInputs(run.source.uri, inputOptions(deps)).catch((err: unknown) => {
    // Named, so a run refused under narrowed settings says which source to fix; the class is kept
    // (a refused path fails at once, a network failure is retried).
    if (err instanceof ValidationError || err instanceof UnreachableError) err.message = `source "${run.source.name}": ${err.message}`;
    throw err;
  });
  if (files.length === 0) throw new UnrecoverableError(`source ${run.source.uri} lists no data files (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .arrow)`);
  const inputs: InputIdentity[] = [];
  for (const f of files) inputs.push(await inputIdentity(f, inputOptions(deps)));
  const reader = { format: run.source.format, text_field: run.source.textField, id_field: run.source.idField };
  const { fingerprint, spec: pinnedSpec } = await planCuration(spec, inputs, reader, store);
  const bytesTotal = inputs.reduce((a, f) => a + f.size, 0);

  const existing = await prisma.datasetVersion.findUnique({ where: { fingerprint } });
  if (existing) {
    log.info({ fingerprint, versionId: existing.id }, "identical dataset version exists; reusing it");
    const stats = await readStats(deps, existing.storeUri, `${existing.prefix}stats.json`);
    await prisma.$transaction([
      prisma.stepStat.deleteMany({ where: { runId } }),
      prisma.stepStat.createMany({ data: stepStatRows(runId, stats?.steps ?? []) }),
      prisma.curationRun.update({
        where: { id: runId },
        data: {
          status: "succeeded",
          fingerprint,
          storeUri: existing.storeUri,
          datasetVersionId: existing.id,
          reusedVersion: true,
          bytesTotal,
          bytesDone: bytesTotal,
          docsIn: stats?.docs_in ?? existing.docs,
          docsKept: existing.docs,
          tokensKept: existing.tokens,
          stats: (stats ?? undefined) as object | undefined,
          finishedAt: new Date(),
        },
      }),
    ]);
    return { tasks: 0, reused: true };
  }

  // One task per input, or per part of an input larger than split_bytes (file order is task order).
  const planned: { input: InputIdentity; part: InputPart | null }[] = [];
  for (const f of inputs) {
    const openRange = (start: number, end: number) => openInput(f.uri, inputOptions(deps), { start, end });
    const parts = await planParts({ uri: f.uri, size: f.size, openRange }, spec.output.split_bytes, run.source.format as InputFormat);
    for (const part of parts ?? [null]) planned.push({ input: f, part });
  }
  // Tasks are created once; a retried plan job reuses them (and their deterministic job ids).
  const tasks = await prisma.$transaction(async (tx) => {
    const have = await tx.curationTask.findMany({ where: { runId }, orderBy: { index: "asc" } });
    if (have.length > 0) return have;
    await tx.curationTask.createMany({
      data: planned.map(({ input: f, part }, index) => ({
        runId,
        index,
        inputUri: f.uri,
        inputId: f.id,
        bytes: f.size,
        ...(part ? { part: part as object } : {}),
      })),
    });
    return tx.curationTask.findMany({ where: { runId }, orderBy: { index: "asc" } });
  });
  const moved = await prisma.curationRun.updateMany({
    where: { id: runId, status: "planning" },
    data: { status: "running", fingerprint, storeUri: store.uri, tasksTotal: tasks.length, bytesTotal, pinnedSpec: pinnedSpec as object },
  });
  if (moved.count === 0) return { tasks: 0, reused: false }; // cancelled while planning

  // Byte ranges after the first of their file need the lines before them counted first.
  const toScan = scanTasks(tasks);
  if (toScan.length > 0) await addScanFlow(deps, runId, toScan);
  // Without dedup steps: the final pass right away. With them: barrier 0's collect pass first.
  else await addFirstPass(deps, runId, spec, tasks);
  log.info({ fingerprint, tasks: tasks.length, scans: toScan.length, bytesTotal, prefix: datasetPrefix(run.datasetName, fingerprint) }, "run planned");
  return { tasks: tasks.length, reused: false };
}

async function readStats(deps: CuratorDeps, storeUri: string, key: string): Promise<Stats | null> {
  if (storeUri !== deps.store.uri) return null;
  try {
    return JSON.parse((await deps.store.get(key)).toString("utf8")) as Stats;
  } catch {
    return null;
  }
}

/** The byte-range tasks whose lines must be counted: all but the last of each split input, not counted yet. */
export function scanTasks<T extends { id: string; inputUri: string; part: unknown }>(tasks: T[]): T[] {
  const out: T[] = [];
  for (const group of groupByInput(tasks)) {
    const parts = group.map((t) => parseInputPart(t.part));
    if (parts.some((p) => p === null)) continue;
    for (const i of partsToCount(parts as InputPart[])) out.push(group[i]!);
  }
  return out;
}

/** Consecutive tasks of the same input (tasks in index order). */
export function groupByInput<T extends { inputUri: string }>(tasks: T[]): T[][] {
  const groups: T[][] = [];
  for (const t of tasks) {
    const last = groups.at(-1);
    if (last && last[0]!.inputUri === t.inputUri) last.push(t);
    else groups.push([t]);
  }
  return groups;
}

/** Bytes a task's input part covers, for progress. */
export function taskBytes(task: { bytes: bigint; part: unknown }): number {
  return partBytes(parseInputPart(task.part), Number(task.bytes));
}

/** The pipeline a run's tasks execute: the spec pinned at planning (classifier versions), else the pipeline's. */
export function runSpec(run: { pinnedSpec: unknown; pipeline: { spec: unknown } }) {
  return parsePipeline(run.pinnedSpec ?? run.pipeline.spec);
}
