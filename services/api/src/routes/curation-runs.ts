import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { ConflictError, jobs, NotFoundError, ValidationError } from "@tokenmill/domain";
import { enqueue } from "@tokenmill/queues";
import { errors, IdParams, ListQuery, page } from "../schemas.js";
import { resolveId } from "../resolve.js";
import { loadRunView, RunView, TERMINAL } from "./run-view.js";

/** Curation runs: a pipeline applied to a source, producing one immutable dataset version. */
export const curationRunRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "",
    {
      onRequest: app.requireScope("write"),
      schema: {
        summary: "Start a curation run of a pipeline over a source",
        tags: ["curation-runs"],
        body: Type.Object(
          {
            source: Type.String({ minLength: 1, maxLength: 300, description: "Source id or name." }),
            pipeline: Type.String({ minLength: 1, maxLength: 300, description: "Pipeline id, name (latest version) or name@version." }),
            dataset_name: Type.Optional(Type.String({ pattern: "^[a-z0-9][a-z0-9._-]{0,127}$", description: "Defaults to the source name." })),
          },
          { additionalProperties: false },
        ),
        response: { 202: RunView, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const source = await app.prisma.source.findUnique({ where: { id: await reference("source", req.body.source, "body.source") } });
      if (!source) throw new ValidationError(`no source "${req.body.source}"`, "body.source");
      const pipelineId = await reference("pipeline", req.body.pipeline, "body.pipeline");
      const run = await app.prisma.curationRun.create({
        data: { sourceId: source.id, pipelineId, datasetName: req.body.dataset_name ?? source.name },
      });
      await enqueue(app.queues.curation, jobs.planRun, { runId: run.id }, `plan-${run.id}`);
      return reply.status(202).send(await loadRunView(app.prisma, run.id));
    },
  );

  app.get(
    "",
    {
      onRequest: app.requireScope("read"),
      schema: { summary: "List curation runs, newest first", tags: ["curation-runs"], querystring: ListQuery, response: { 200: page(RunView), ...errors(401, 403) } },
    },
    async (req) => {
      const [rows, total] = await Promise.all([
        app.prisma.curationRun.findMany({ select: { id: true }, orderBy: { createdAt: "desc" }, take: req.query.limit ?? 50, skip: req.query.offset ?? 0 }),
        app.prisma.curationRun.count(),
      ]);
      return { items: await Promise.all(rows.map((r) => loadRunView(app.prisma, r.id))), total };
    },
  );

  app.get(
    "/:id",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "Get a run: status, progress, per-step kept/dropped by reason, token totals",
        tags: ["curation-runs"],
        params: IdParams,
        response: { 200: RunView, ...errors(401, 403, 404) },
      },
    },
    async (req) => loadRunView(app.prisma, req.params.id),
  );

  app.post(
    "/:id/cancel",
    {
      onRequest: app.requireScope("write"),
      schema: {
        summary: "Cancel a run; tasks stop at their next batch and nothing is published",
        tags: ["curation-runs"],
        params: IdParams,
        response: { 200: RunView, ...errors(401, 403, 404, 409) },
      },
    },
    async (req) => {
      const id = req.params.id;
      const updated = await app.prisma.curationRun.updateMany({
        where: { id, status: { notIn: [...TERMINAL] } },
        data: { status: "cancelled", finishedAt: new Date(), error: `cancelled by ${req.token?.name ?? "a user"}` },
      });
      if (updated.count === 0) {
        const run = await app.prisma.curationRun.findUnique({ where: { id } });
        if (!run) throw new NotFoundError("curation run", id);
        throw new ConflictError(`run ${id} is already ${run.status}`);
      }
      await app.prisma.curationTask.updateMany({ where: { runId: id, status: "pending" }, data: { status: "cancelled" } });
      // Waiting jobs are removed; a task that is running sees the status and stops at its next batch.
      const tasks = await app.prisma.curationTask.findMany({ where: { runId: id }, select: { id: true } });
      await Promise.allSettled([
        app.queues.curation.remove(`plan-${id}`),
        app.queues.curation.remove(`finalize-${id}`, { removeChildren: true }),
        ...tasks.map((t) => app.queues.curation.remove(`task-${t.id}`)),
      ]);
      return loadRunView(app.prisma, id);
    },
  );

  /** A source or pipeline named in the body, by the same rules as the id routes; a miss is the body's fault (400). */
  async function reference(kind: "source" | "pipeline", ref: string, field: string) {
    try {
      return await resolveId(app.prisma, kind, ref, field);
    } catch (err) {
      if (err instanceof NotFoundError) throw new ValidationError(`no ${kind} "${ref}"`, field);
      throw err;
    }
  }
};
