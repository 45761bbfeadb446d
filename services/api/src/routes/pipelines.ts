import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { NotFoundError, parsePipeline, pipelineHash, STEP_CATALOG } from "@tokenmill/domain";
import { guardPipelinePaths } from "@tokenmill/curation";
import { errors, idOrName, inBody, ListQuery, page } from "../schemas.js";
import { resolveId } from "../resolve.js";

export const PipelineView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  version: Type.Integer({ description: "Increments each time a pipeline of this name is defined with a different spec." }),
  spec_hash: Type.String(),
  spec: Type.Unknown({ description: "The validated pipeline with every default filled in." }),
  created_at: Type.String({ format: "date-time" }),
});

type Row = { id: string; name: string; version: number; specHash: string; spec: unknown; createdAt: Date };
export const pipelineView = (p: Row) => ({
  id: p.id,
  name: p.name,
  version: p.version,
  spec_hash: p.specHash,
  spec: p.spec,
  created_at: p.createdAt.toISOString(),
});

/** Declarative, versioned pipelines (the pipeline file format of DESIGN.md, as JSON). */
export const pipelineRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "",
    {
      onRequest: app.requireScope("write"),
      schema: {
        summary: "Define a pipeline; an identical definition returns the existing version (200)",
        description: "Body: `{version: 1, name, steps: [{step, ...params}], output?}`. Unknown steps or parameters are rejected with the offending path.",
        tags: ["pipelines"],
        body: Type.Unknown(),
        response: { 200: PipelineView, 201: PipelineView, ...errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const spec = inBody(() => parsePipeline(req.body));
      // The guard names the parameter inside the pipeline (`steps[0].eval_dir`); the reply names it in the body.
      await guardPipelinePaths(spec, app.config.sourcePolicy).catch((err: unknown) => inBody(() => { throw err; }));
      const specHash = pipelineHash(spec);
      const same = await app.prisma.pipeline.findUnique({ where: { name_specHash: { name: spec.name, specHash } } });
      if (same) return reply.status(200).send(pipelineView(same));
      const row = await app.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${"pipeline:" + spec.name}))`;
        const last = await tx.pipeline.findFirst({ where: { name: spec.name }, orderBy: { version: "desc" } });
        return tx.pipeline.create({ data: { name: spec.name, version: (last?.version ?? 0) + 1, spec: spec as object, specHash } });
      });
      return reply.status(201).send(pipelineView(row));
    },
  );

  app.get(
    "",
    { onRequest: app.requireScope("read"), schema: { summary: "List pipelines", tags: ["pipelines"], querystring: ListQuery, response: { 200: page(PipelineView), ...errors(401, 403) } } },
    async (req) => {
      const [rows, total] = await Promise.all([
        app.prisma.pipeline.findMany({ orderBy: [{ name: "asc" }, { version: "desc" }], take: req.query.limit ?? 50, skip: req.query.offset ?? 0 }),
        app.prisma.pipeline.count(),
      ]);
      return { items: rows.map(pipelineView), total };
    },
  );

  app.get(
    "/steps",
    {
      onRequest: app.requireScope("read"),
      schema: { summary: "The step catalog: every step name with its parameters, types and defaults", tags: ["pipelines"], response: { 200: Type.Unknown() } },
    },
    async () => STEP_CATALOG,
  );

  app.get(
    "/:id",
    { onRequest: app.requireScope("read"), schema: { summary: "Get a pipeline by id, name (newest version) or name@version", tags: ["pipelines"], params: idOrName("name (its newest version), or name@version"), response: { 200: PipelineView, ...errors(401, 403, 404) } } },
    async (req) => {
      const id = await resolveId(app.prisma, "pipeline", req.params.id, "params.id");
      const row = await app.prisma.pipeline.findUnique({ where: { id } });
      if (!row) throw new NotFoundError("pipeline", req.params.id, "params.id");
      return pipelineView(row);
    },
  );
};
