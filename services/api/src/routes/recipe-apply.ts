import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { ConflictError, parseRecipe, pipelineHash, sha256Hex, UnreachableError, ValidationError } from "@tokenmill/domain";
import { guardPipelinePaths } from "@tokenmill/curation";
import { probeSource } from "./sources.js";
import { errors } from "../schemas.js";

const NAME = "^[a-z0-9][a-z0-9._-]{0,127}$";
const SCHEMES = ["file:", "s3:", "http:", "https:"];
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
/** Rollback only touches what was created this recently: an apply's own objects, not older data a write token names. */
export const ROLLBACK_WINDOW_MS = 6 * 3600 * 1000;

/**
 * What makes `tokenmill recipe apply` all-or-nothing. Curation runs are asynchronous jobs, so an
 * apply cannot be one database transaction; instead (1) `preflight` checks, before anything is
 * written, everything the later calls would reject short of curating (the recipe and its offline
 * plan, name conflicts, every new source's URI), and (2) when a later step still fails (e.g. the
 * plan over the curated sizes exceeds a source's max_epochs), `rollback` deletes, in one
 * transaction, what that apply created: its curation runs, the dataset versions they produced,
 * and the sources and pipelines it defined — each only when nothing else uses it.
 */
export const recipeApplyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const write = { onRequest: app.requireScope("write") };

  app.post(
    "/experiments/preflight",
    {
      ...write,
      schema: {
        summary: "Check a recipe apply without writing anything: recipe, experiment and mixture names, new sources' URIs",
        tags: ["experiments"],
        body: Type.Object(
          {
            name: Type.String({ pattern: NAME, description: "The experiment to create." }),
            recipe: Type.Unknown({ description: "The recipe document (recipe_version 1)." }),
            sources: Type.Array(Type.Object({ name: Type.String({ pattern: NAME }), uri: Type.String({ minLength: 1, maxLength: 4096 }) }), {
              description: "Sources the apply will register: reused when one of that name and URI exists; one of that name over another URI makes the answer name this one <name>.<8 hex of a hash of its URI>.",
            }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            pipelines: Type.Array(Type.Object({ name: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }), { description: "The recipe's pipelines; id when an identical one is defined already." }),
            sources: Type.Array(Type.Object({ name: Type.String(), id: Type.Union([Type.String(), Type.Null()]), files: Type.Integer() })),
          }),
          ...errors(400, 401, 403, 409, 422),
        },
      },
    },
    async (req) => {
      const { name, sources } = req.body;
      let recipe;
      try {
        recipe = parseRecipe(req.body.recipe);
      } catch (err) {
        if (err instanceof ValidationError) throw new ValidationError(err.message.replace(/^[^:]*: /, ""), `body.recipe${err.field ? `.${err.field}` : ""}`);
        throw err;
      }
      if (await app.prisma.experiment.findUnique({ where: { name } })) throw new ConflictError(`an experiment named ${name} exists`);
      for (const st of recipe.stages) {
        if (await app.prisma.mixture.findUnique({ where: { name: `${name}.${st.name}` } })) throw new ConflictError(`a mixture named ${name}.${st.name} exists`);
      }
      const out = [];
      for (const [i, s] of sources.entries()) {
        // A source of that name over other data (the same recipe applied from another checkout or
        // bucket) is never reused: this one is registered as name.<8 hex of a hash of its URI>, and reused under that name next time.
        const existing = await app.prisma.source.findUnique({ where: { name: s.name } });
        if (existing && sameUri(existing.uri, s.uri)) {
          out.push({ name: s.name, id: existing.id, files: 0 });
          continue;
        }
        if (existing) {
          const alias = `${s.name.slice(0, 119)}.${sha256Hex(canonicalUri(s.uri)).slice(0, 8)}`;
          const taken = await app.prisma.source.findUnique({ where: { name: alias } });
          if (taken && sameUri(taken.uri, s.uri)) {
            out.push({ name: alias, id: taken.id, files: 0 });
            continue;
          }
          if (taken) throw new ConflictError(`sources named ${s.name} and ${alias} exist over other data than ${s.uri}`);
          s.name = alias;
        }
        const field = `body.sources[${i}].uri`;
        let scheme: string;
        try {
          scheme = s.uri.startsWith("/") ? "file:" : new URL(s.uri).protocol;
        } catch {
          throw new ValidationError("not a valid URI", field);
        }
        if (!SCHEMES.includes(scheme)) throw new ValidationError(`unsupported scheme "${scheme}"; use file://, s3://, http:// or https://`, field);
        const files = await probeSource(s.uri, { s3: app.config.s3, policy: app.config.sourcePolicy, logger: req.log }, field);
        if (files.length === 0) throw new UnreachableError(s.uri, "no data files (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .arrow) found", field);
        out.push({ name: s.name, id: null, files: files.length });
      }
      const pipelines = [];
      for (const [j, p] of recipe.pipelines.entries()) {
        await guardPipelinePaths(p, app.config.sourcePolicy).catch((err: unknown) => {
          if (err instanceof ValidationError) throw new ValidationError(err.message.replace(/^[^:]*: /, ""), `body.recipe.pipelines[${j}].${err.field}`);
          throw err;
        });
        const same = await app.prisma.pipeline.findUnique({ where: { name_specHash: { name: p.name, specHash: pipelineHash(p) } } });
        pipelines.push({ name: p.name, id: same?.id ?? null });
      }
      return { pipelines, sources: out };
    },
  );

  const Ids = Type.Array(Type.String({ format: "uuid" }), { default: [] });
  const Kept = Type.Object({ kind: Type.String(), id: Type.String(), reason: Type.String() });

  app.post(
    "/experiments/rollback",
    {
      ...write,
      schema: {
        summary: "Undo a failed recipe apply: delete the curation runs, dataset versions, sources and pipelines it created",
        description:
          "In one transaction, and only for objects created in the last 6 hours (an apply's own; anything older is kept). A run that is not finished, a dataset version that a mixture or another run uses, and a source or pipeline that other runs use are kept (and listed with the reason). Files of deleted dataset versions are removed from the object store afterwards.",
        tags: ["experiments"],
        body: Type.Object({ pipelines: Type.Optional(Ids), sources: Type.Optional(Ids), curation_runs: Type.Optional(Ids) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            deleted: Type.Object({ curation_runs: Type.Integer(), dataset_versions: Type.Integer(), sources: Type.Integer(), pipelines: Type.Integer(), objects: Type.Integer() }),
            kept: Type.Array(Kept),
          }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const { pipelines = [], sources = [], curation_runs = [] } = req.body;
      const kept: { kind: string; id: string; reason: string }[] = [];
      const since = new Date(Date.now() - ROLLBACK_WINDOW_MS);
      const old = `created before ${since.toISOString()}: older than any apply this undoes`;
      const result = await app.prisma.$transaction(async (tx) => {
        const runs = (await tx.curationRun.findMany({ where: { id: { in: curation_runs } } })).filter((r) => {
          if (r.createdAt >= since) return true;
          kept.push({ kind: "curation_run", id: r.id, reason: old });
          return false;
        });
        const done = runs.filter((r) => {
          if (TERMINAL.has(r.status)) return true;
          kept.push({ kind: "curation_run", id: r.id, reason: `still ${r.status}` });
          return false;
        });
        const runIds = done.map((r) => r.id);
        // Versions these runs produced (not reused from an earlier run) that nothing else uses.
        const versions = [];
        for (const r of done) {
          if (!r.datasetVersionId || r.reusedVersion) continue;
          const others = await tx.curationRun.count({ where: { datasetVersionId: r.datasetVersionId, id: { notIn: runIds } } });
          const mixtures = await tx.mixtureComponent.count({ where: { datasetVersionId: r.datasetVersionId } });
          if (others || mixtures) kept.push({ kind: "dataset_version", id: r.datasetVersionId, reason: `used by ${others} other run(s) and ${mixtures} mixture component(s)` });
          else versions.push(r.datasetVersionId);
        }
        await tx.curationRun.deleteMany({ where: { id: { in: runIds } } });
        const gone = await tx.datasetVersion.findMany({ where: { id: { in: versions } }, select: { id: true, storeUri: true, prefix: true } });
        await tx.datasetVersion.deleteMany({ where: { id: { in: versions } } });
        let deletedSources = 0;
        for (const id of sources) {
          const source = await tx.source.findUnique({ where: { id }, select: { createdAt: true } });
          if (source && source.createdAt < since) {
            kept.push({ kind: "source", id, reason: old });
            continue;
          }
          const left = await tx.curationRun.count({ where: { sourceId: id } });
          if (left) kept.push({ kind: "source", id, reason: `used by ${left} other run(s)` });
          else deletedSources += (await tx.source.deleteMany({ where: { id } })).count;
        }
        let deletedPipelines = 0;
        for (const id of pipelines) {
          const pipeline = await tx.pipeline.findUnique({ where: { id }, select: { createdAt: true } });
          if (pipeline && pipeline.createdAt < since) {
            kept.push({ kind: "pipeline", id, reason: old });
            continue;
          }
          const left = await tx.curationRun.count({ where: { pipelineId: id } });
          if (left) kept.push({ kind: "pipeline", id, reason: `used by ${left} other run(s)` });
          else deletedPipelines += (await tx.pipeline.deleteMany({ where: { id } })).count;
        }
        return { runs: runIds.length, gone, sources: deletedSources, pipelines: deletedPipelines };
      });
      // After the commit: files of versions whose rows are gone (content-addressed, so a later
      // curation of the same inputs rewrites them).
      let objects = 0;
      for (const v of result.gone) {
        if (v.storeUri !== app.store.uri || !v.prefix) {
          kept.push({ kind: "objects", id: v.id, reason: `files at ${v.storeUri}/${v.prefix} are outside this server's store` });
          continue;
        }
        const prefix = v.prefix.endsWith("/") ? v.prefix : `${v.prefix}/`;
        for (const o of await app.store.list(prefix)) {
          await app.store.delete(o.key);
          objects++;
        }
      }
      return {
        deleted: { curation_runs: result.runs, dataset_versions: result.gone.length, sources: result.sources, pipelines: result.pipelines, objects },
        kept,
      };
    },
  );
};

/** A source URI as stored: an absolute path is the file:// URI of that path. */
function canonicalUri(uri: string): string {
  return uri.startsWith("/") ? `file://${uri}` : uri;
}

function sameUri(a: string, b: string): boolean {
  return canonicalUri(a) === canonicalUri(b);
}
