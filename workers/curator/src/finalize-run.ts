import { UnrecoverableError, type Job } from "bullmq";
import { datasetPrefix, parsePipeline } from "@tokenmill/domain";
import { buildManifest, dedupBarriers, dedupWorkPrefix, mergeTaskResults, pipelineTokenizer, removeDedupWork, type TaskResult } from "@tokenmill/curation";
import type { CuratorDeps } from "./deps.js";
import { stepStatRows } from "./step-stats.js";

/**
 * Publishes the dataset version: stats.json, then manifest.json (its presence marks the version
 * complete on the object store), then the database rows in one transaction.
 */
export async function finalizeRun(deps: CuratorDeps, runId: string, job: Job): Promise<{ versionId: string } | { skipped: string }> {
  const { prisma, store } = deps;
  const log = deps.logger.child({ runId, jobId: job.id });
  const run = await prisma.curationRun.findUnique({ where: { id: runId }, include: { tasks: { orderBy: { index: "asc" } }, pipeline: true } });
  if (!run) throw new UnrecoverableError(`curation run ${runId} does not exist`);
  if (run.status === "cancelled" || run.status === "failed") return { skipped: run.status };
  if (run.status === "succeeded" && run.datasetVersionId) return { versionId: run.datasetVersionId };
  const pending = run.tasks.filter((t) => t.status !== "succeeded");
  if (pending.length > 0 || !run.fingerprint) {
    throw new Error(`run ${runId} is not ready to finalize: ${pending.length} task(s) not succeeded`);
  }
  await prisma.curationRun.update({ where: { id: runId }, data: { status: "finalizing" } });

  const spec = parsePipeline(run.pipeline.spec);
  const tokenizer = (await pipelineTokenizer(spec)).info;
  const results = run.tasks.map((t) => t.result as unknown as TaskResult);
  const prefix = datasetPrefix(run.datasetName, run.fingerprint);
  const stats = mergeTaskResults(run.fingerprint, results);
  const manifest = buildManifest({
    dataset: run.datasetName,
    fingerprint: run.fingerprint,
    tokenizer,
    spec,
    // One entry per input, also when it was split into several tasks.
    inputs: [...new Map(run.tasks.map((t) => [t.inputUri, { uri: t.inputUri, size: Number(t.bytes), id: t.inputId }])).values()],
    results,
  });
  await store.put(`${prefix}stats.json`, `${JSON.stringify(stats, null, 2)}\n`);
  await store.put(`${prefix}manifest.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  // Dedup intermediates are not part of the version: gone before the run reads as succeeded (every
  // task has succeeded, so nothing reads them again; a retry finds nothing left to remove).
  if (dedupBarriers(spec).length > 0) await removeDedupWork(store, dedupWorkPrefix(prefix));

  const version = await prisma.$transaction(async (tx) => {
    let v = await tx.datasetVersion.findUnique({ where: { fingerprint: run.fingerprint! } });
    if (!v) {
      v = await tx.datasetVersion.create({
        data: {
          name: run.datasetName,
          fingerprint: run.fingerprint!,
          storeUri: store.uri,
          prefix,
          tokenizer: tokenizer.id,
          docs: manifest.totals.rows,
          tokens: manifest.totals.tokens,
          bytes: manifest.totals.bytes,
          manifest: manifest as object,
        },
      });
      await tx.shard.createMany({
        data: manifest.shards.map((s, position) => ({
          datasetVersionId: v!.id,
          position,
          key: `${prefix}${s.file}`,
          rows: s.rows,
          tokens: s.tokens,
          bytes: s.bytes,
          sha256: s.sha256,
        })),
      });
    }
    await tx.stepStat.deleteMany({ where: { runId } });
    await tx.stepStat.createMany({ data: stepStatRows(runId, stats.steps) });
    await tx.curationRun.update({
      where: { id: runId },
      data: {
        status: "succeeded",
        datasetVersionId: v.id,
        docsIn: stats.docs_in,
        docsKept: stats.docs_kept,
        tokensKept: stats.tokens_kept,
        bytesDone: run.bytesTotal,
        stats: stats as object,
        finishedAt: new Date(),
      },
    });
    return v;
  });
  log.info({ versionId: version.id, docs: stats.docs_kept, tokens: stats.tokens_kept, url: store.url(prefix) }, "dataset version published");
  return { versionId: version.id };
}
