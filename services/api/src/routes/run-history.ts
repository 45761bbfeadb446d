import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { NotFoundError, ValidationError } from "@tokenmill/domain";
import { isUuid } from "../resolve.js";
import { errors, IdParams } from "../schemas.js";
import { loadTrainingRunView, mixturePlan, TrainingRunView } from "./training-run-view.js";

/** Means to 6 significant digits: plenty for a chart, and a third of the bytes. */
const sig = (x: number | null) => (x === null ? null : Number(x.toPrecision(6)));

const ProgressPoint = Type.Object({
  step: Type.Integer({ description: "The last step of the bucket (the report's own step when not downsampled)." }),
  loss: Type.Union([Type.Number(), Type.Null()], { description: "Mean over the bucket." }),
  lr: Type.Union([Type.Number(), Type.Null()], { description: "Mean over the bucket." }),
  tokens_per_s: Type.Union([Type.Number(), Type.Null()], { description: "Mean over the bucket." }),
  mfu: Type.Union([Type.Number(), Type.Null()], { description: "Mean over the bucket." }),
  tokens_consumed: Type.Integer({ description: "Cumulative tokens over all sources at the bucket's last step." }),
  reports: Type.Integer({ description: "Reports in this bucket." }),
});

const ProgressHistory = Type.Object({
  run_id: Type.String(),
  total_steps: Type.Union([Type.Integer(), Type.Null()]),
  tokens_planned: Type.Integer({ description: "The plan's tokens for the run's stage: burn-down remaining = tokens_planned − tokens_consumed." }),
  reports: Type.Integer({ description: "Progress reports stored for the run." }),
  bucket: Type.Integer({ description: "Consecutive reports averaged per point (1: not downsampled)." }),
  points: Type.Array(ProgressPoint),
});

/**
 * A run's progress history for charts (loss, throughput, burn-down), downsampled in the database to
 * at most max_points buckets of consecutive reports; and the latest run of each listed experiment,
 * for the experiments list.
 */
export const runHistoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/runs/:id/progress",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "A run's progress history (step, loss, lr, tokens/s, MFU, tokens consumed), downsampled on the server to at most max_points",
        tags: ["runs"],
        params: IdParams,
        querystring: Type.Object({ max_points: Type.Optional(Type.Integer({ minimum: 2, maximum: 5000, default: 500 })) }),
        response: { 200: ProgressHistory, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const id = req.params.id;
      const run = await app.prisma.trainingRun.findUnique({ where: { id }, select: { mixtureId: true, totalSteps: true } });
      if (!run) throw new NotFoundError("run", id);
      const max = req.query.max_points ?? 500;
      const reports = await app.prisma.runProgress.count({ where: { runId: id } });
      const bucket = Math.max(1, Math.ceil(reports / max));
      // Buckets of `bucket` consecutive reports by step: means for the rates, and the cumulative
      // tokens of the bucket's last report (summed over sources only for that one row).
      const rows = await app.prisma.$queryRaw<{ step: number; loss: number | null; lr: number | null; tps: number | null; mfu: number | null; consumed: number; n: number }[]>`
        WITH r AS (
          SELECT step, loss, lr, "tokensPerS" AS tps, mfu, (row_number() OVER (ORDER BY step) - 1) / ${bucket}::int AS b
          FROM run_progress WHERE "runId" = ${id}::uuid),
        g AS (
          SELECT max(step) AS step, avg(loss) AS loss, avg(lr) AS lr, avg(tps) AS tps, avg(mfu) AS mfu, count(*) AS n FROM r GROUP BY b)
        SELECT g.step::int AS step, g.loss::float8 AS loss, g.lr::float8 AS lr, g.tps::float8 AS tps, g.mfu::float8 AS mfu, g.n::int AS n,
               (SELECT coalesce(sum(value::numeric), 0) FROM jsonb_each_text(p."tokensConsumed"))::float8 AS consumed
        FROM g JOIN run_progress p ON p."runId" = ${id}::uuid AND p.step = g.step
        ORDER BY g.step`;
      const plan = await mixturePlan(app.prisma, run.mixtureId);
      return {
        run_id: id,
        total_steps: run.totalSteps,
        tokens_planned: plan.tokens,
        reports,
        bucket,
        points: rows.map((r) => ({ step: r.step, loss: sig(r.loss), lr: sig(r.lr), tokens_per_s: sig(r.tps), mfu: sig(r.mfu), tokens_consumed: Math.round(r.consumed), reports: r.n })),
      };
    },
  );

  app.get(
    "/runs/latest",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "The latest training run of each given experiment (for lists: status, progress, ETA), with the experiment's run count",
        tags: ["runs"],
        querystring: Type.Object({ experiment: Type.Array(Type.String(), { maxItems: 500, description: "Experiment ids or names, repeated or comma-separated: ?experiment=a,b or ?experiment=a&experiment=b. An id without runs is left out; a name that names no experiment is a 404." }) }),
        response: { 200: Type.Object({ items: Type.Array(Type.Object({ experiment_id: Type.String(), runs: Type.Integer(), run: TrainingRunView })) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const refs = [...new Set(req.query.experiment.flatMap((x) => x.split(",")).filter(Boolean))];
      if (refs.length > 500) throw new ValidationError("at most 500 experiments", "query.experiment");
      // Ids as given (a list's ids may have no runs yet); names resolved in one query, each must exist.
      const names = refs.filter((x) => !isUuid(x));
      const named = names.length ? await app.prisma.experiment.findMany({ where: { name: { in: names } }, select: { id: true, name: true } }) : [];
      const missing = names.find((x) => !named.some((e) => e.name === x));
      if (missing !== undefined) throw new NotFoundError("experiment", missing, "query.experiment");
      const ids = [...new Set([...refs.filter(isUuid).map((x) => x.toLowerCase()), ...named.map((e) => e.id)])];
      if (!ids.length) return { items: [] };
      const [latest, counts] = await Promise.all([
        app.prisma.trainingRun.findMany({ where: { experimentId: { in: ids } }, distinct: ["experimentId"], orderBy: [{ experimentId: "asc" }, { createdAt: "desc" }], select: { id: true, experimentId: true } }),
        app.prisma.trainingRun.groupBy({ by: ["experimentId"], where: { experimentId: { in: ids } }, _count: { _all: true } }),
      ]);
      const n = new Map(counts.map((c) => [c.experimentId, c._count._all]));
      const items = await Promise.all(latest.map(async (r) => ({ experiment_id: r.experimentId, runs: n.get(r.experimentId) ?? 0, run: await loadTrainingRunView(app.prisma, r.id) })));
      return { items };
    },
  );
};
