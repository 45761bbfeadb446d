import { Type, type Static } from "typebox";
import { NotFoundError, sumStepStats, type StepStats } from "@tokenmill/domain";
import type { PrismaClient } from "@tokenmill/db";

export const TERMINAL = ["succeeded", "failed", "cancelled"] as const;

const StepView = Type.Object({
  step: Type.String(),
  docs_in: Type.Integer(),
  docs_out: Type.Integer(),
  dropped: Type.Record(Type.String(), Type.Integer(), { description: "reason → documents dropped" }),
  counters: Type.Optional(
    Type.Record(Type.String(), Type.Integer(), {
      description: "Step-specific counts that are not drops (pii masks by kind, c4_quality lines removed by rule, …)",
    }),
  ),
});

export const RunView = Type.Object({
  id: Type.String(),
  status: Type.String({ description: "queued | planning | running | finalizing | succeeded | failed | cancelled" }),
  dataset_name: Type.String(),
  source_id: Type.String(),
  source_name: Type.String(),
  pipeline_id: Type.String(),
  pipeline_name: Type.String(),
  pipeline_version: Type.Integer(),
  fingerprint: Type.Union([Type.String(), Type.Null()]),
  store_uri: Type.Union([Type.String(), Type.Null()]),
  dataset_version_id: Type.Union([Type.String(), Type.Null()]),
  reused_version: Type.Boolean({ description: "True when an identical dataset version already existed and was reused." }),
  error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: "date-time" }),
  started_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  progress: Type.Object({
    tasks_total: Type.Integer({ description: "One per input file, or per part of an input larger than the pipeline's output.split_bytes." }),
    tasks_done: Type.Integer(),
    bytes_total: Type.Integer(),
    bytes_done: Type.Integer(),
    fraction: Type.Number({ minimum: 0, maximum: 1 }),
  }),
  totals: Type.Object({ docs_in: Type.Integer(), docs_kept: Type.Integer(), docs_dropped: Type.Integer(), tokens_kept: Type.Integer() }),
  steps: Type.Array(StepView, { description: "Per step, in order (the reader first); complete once the run has succeeded." }),
  failed_tasks: Type.Array(Type.Object({ index: Type.Integer(), input: Type.String(), error: Type.String() })),
});
export type RunView = Static<typeof RunView>;

interface TaskResultLike {
  steps?: StepStats[];
}

export async function loadRunView(prisma: PrismaClient, id: string): Promise<RunView> {
  const run = await prisma.curationRun.findUnique({
    where: { id },
    include: {
      tasks: { orderBy: { index: "asc" } },
      stepStats: { orderBy: { position: "asc" } },
      source: { select: { name: true } },
      pipeline: { select: { name: true, version: true } },
    },
  });
  if (!run) throw new NotFoundError("curation run", id);
  const done = run.tasks.filter((t) => t.status === "succeeded");
  const steps: StepStats[] =
    run.stepStats.length > 0
      ? run.stepStats.map((s) => ({
          step: s.step,
          docs_in: Number(s.docsIn),
          docs_out: Number(s.docsOut),
          dropped: s.dropped as Record<string, number>,
          ...(s.counters ? { counters: s.counters as Record<string, number> } : {}),
        }))
      : sumStepStats(done.map((t) => (t.result as TaskResultLike | null)?.steps ?? []));
  const docsIn = run.status === "succeeded" ? Number(run.docsIn) : run.tasks.reduce((a, t) => a + Number(t.docsIn), 0);
  const docsKept = run.status === "succeeded" ? Number(run.docsKept) : run.tasks.reduce((a, t) => a + Number(t.docsKept), 0);
  const tokensKept = run.status === "succeeded" ? Number(run.tokensKept) : run.tasks.reduce((a, t) => a + Number(t.tokensKept), 0);
  const bytesTotal = Number(run.bytesTotal);
  const bytesDone = run.tasks.reduce((a, t) => a + Number(t.bytesDone), 0);
  return {
    id: run.id,
    status: run.status,
    dataset_name: run.datasetName,
    source_id: run.sourceId,
    source_name: run.source.name,
    pipeline_id: run.pipelineId,
    pipeline_name: run.pipeline.name,
    pipeline_version: run.pipeline.version,
    fingerprint: run.fingerprint,
    store_uri: run.storeUri,
    dataset_version_id: run.datasetVersionId,
    reused_version: run.reusedVersion,
    error: run.error,
    created_at: run.createdAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
    progress: {
      tasks_total: run.tasksTotal,
      tasks_done: done.length,
      bytes_total: bytesTotal,
      bytes_done: bytesDone,
      fraction: run.status === "succeeded" ? 1 : bytesTotal > 0 ? Math.min(1, bytesDone / bytesTotal) : 0,
    },
    totals: { docs_in: docsIn, docs_kept: docsKept, docs_dropped: docsIn - docsKept, tokens_kept: tokensKept },
    steps,
    failed_tasks: run.tasks.filter((t) => t.status === "failed").map((t) => ({ index: t.index, input: t.inputUri, error: t.error ?? "" })),
  };
}
