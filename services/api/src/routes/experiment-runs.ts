import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { jobs, NotFoundError, ValidationError, type MixturePlan } from "@tokenmill/domain";
import { enqueue } from "@tokenmill/queues";
import { errors, IdOrNameParams } from "../schemas.js";
import { resolveId } from "../resolve.js";
import { LedgerRow, loadLedger, loadTrainingRunView, TrainingRunView } from "./training-run-view.js";

const Resources = Type.Object(
  {
    nodes: Type.Integer({ minimum: 1, default: 1, description: "Nodes (default 1)." }),
    gpus_per_node: Type.Integer({ minimum: 0, default: 0, description: "GPUs per node; 0 runs on CPU (default 0)." }),
    procs_per_node: Type.Optional(
      Type.Integer({ minimum: 1, description: "Trainer processes per node: one per GPU (the default with GPUs); on CPU 1 unless given, several train data-parallel." }),
    ),
    cpus_per_node: Type.Optional(Type.Integer({ minimum: 1 })),
    memory_gb: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    time_limit_s: Type.Optional(Type.Integer({ minimum: 60, description: "Wall-clock limit of each attempt (slurm, kubernetes); the trainer is signalled to checkpoint before it." })),
    signal_lead_s: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: "Seconds the trainer gets to checkpoint when it must stop (slurm: signalled this long before time_limit_s, at most half of it; kubernetes: a pod's grace between SIGTERM and SIGKILL; local: from SIGTERM to SIGKILL on a cancel or when the launcher dies). Default: the backend's (slurm and kubernetes 120, local CANCEL_GRACE_MS).",
      }),
    ),
  },
  { additionalProperties: false },
);

const Retry = Type.Object(
  {
    max_preemptions: Type.Integer({ minimum: 0, default: 3, description: "Re-dispatches after preemption or node loss (default 3)." }),
    max_failures: Type.Integer({ minimum: 0, default: 0, description: "Re-dispatches after the trainer itself failed (default 0)." }),
  },
  { additionalProperties: false },
);

const Overrides = Type.Object(
  {
    model: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Trainer model spec instead of the recipe\'s, e.g. {"recipe": "tiny", "max_seq_len": 512}.' })),
    micro_batch_size: Type.Optional(Type.Integer({ minimum: 1 })),
    grad_accum: Type.Optional(Type.Integer({ minimum: 1 })),
    max_steps: Type.Optional(Type.Integer({ minimum: 1, description: "Stop after this many steps (the schedule still spans the plan)." })),
    lr: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    warmup_steps: Type.Optional(Type.Integer({ minimum: 0 })),
    checkpoint_every_steps: Type.Optional(Type.Integer({ minimum: 1 })),
    progress_every_steps: Type.Optional(Type.Integer({ minimum: 1 })),
    device: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("cpu"), Type.Literal("cuda")])),
    precision: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("bf16"), Type.Literal("fp32")])),
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const LaunchBody = Type.Object(
  {
    stage: Type.Optional(Type.String({ maxLength: 128, description: "Recipe stage to train (default: the first)." })),
    backend: Type.Union([Type.Literal("local"), Type.Literal("slurm"), Type.Literal("kubernetes")], { default: "local" }),
    resources: Type.Optional(Resources),
    retry: Type.Optional(Retry),
    overrides: Type.Optional(Overrides),
  },
  { additionalProperties: false },
);

/** Launching runs of an experiment, and the experiment's token ledger. */
export const experimentRunRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "/experiments/:id/runs",
    {
      onRequest: app.requireScope("write"),
      schema: {
        summary: "Launch a training run of one stage of an experiment on a backend",
        tags: ["runs"],
        params: IdOrNameParams,
        body: LaunchBody,
        response: { 202: TrainingRunView, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const id = await resolveId(app.prisma, "experiment", req.params.id, "params.id");
      const e = await app.prisma.experiment.findUnique({ where: { id }, include: { mixtures: { include: { mixture: true }, orderBy: { position: "asc" } } } });
      if (!e) throw new NotFoundError("experiment", req.params.id, "params.id");
      const stage = req.body.stage ?? e.mixtures[0]?.stage;
      const em = e.mixtures.find((m) => m.stage === stage);
      if (!em) throw new ValidationError(`no stage ${JSON.stringify(stage)} (stages: ${e.mixtures.map((m) => m.stage).join(", ")})`, "body.stage");
      const plan = em.mixture.plan as unknown as MixturePlan;
      const backend = req.body.backend ?? "local";
      const resources = { nodes: 1, gpus_per_node: 0, ...req.body.resources };
      if (resources.gpus_per_node > 0 && resources.procs_per_node !== undefined && resources.procs_per_node !== resources.gpus_per_node) {
        throw new ValidationError(`with GPUs the trainer runs one process per GPU: procs_per_node must be ${resources.gpus_per_node} or absent, got ${resources.procs_per_node}`, "body.resources.procs_per_node");
      }
      if (backend === "local" && resources.nodes !== 1) {
        throw new ValidationError(`the local backend runs on the API's machine only: nodes must be 1, got ${resources.nodes}`, "body.resources.nodes");
      }
      if (backend === "local" && resources.time_limit_s !== undefined) {
        throw new ValidationError("the local backend has no time limit (slurm and kubernetes do); leave it out, or cap the run with overrides.max_steps", "body.resources.time_limit_s");
      }
      const retry = { max_preemptions: 3, max_failures: 0, ...req.body.retry };
      const run = await app.prisma.$transaction(async (tx) => {
        // Ledger rows are the plan's budget; created by the first run of a stage, shared by later ones.
        let position = 0;
        await tx.ledgerEntry.createMany({
          data: plan.phases.flatMap((ph) => ph.components.map((c) => ({ experimentId: e.id, stage: em.stage, phase: ph.name, source: c.name, position: position++, planned: BigInt(c.tokens) }))),
          skipDuplicates: true,
        });
        return tx.trainingRun.create({
          data: {
            experimentId: e.id,
            stage: em.stage,
            mixtureId: em.mixtureId,
            planFingerprint: plan.fingerprint,
            backend,
            resources,
            retry,
            overrides: (req.body.overrides ?? {}) as object,
            events: { create: { status: "queued", reason: `launched by ${req.token?.name ?? "a user"}` } },
          },
        });
      });
      await enqueue(app.launchQueue, jobs.launchRun, { runId: run.id }, `launch-${run.id}`);
      return reply.status(202).send(await loadTrainingRunView(app.prisma, run.id));
    },
  );

  app.get(
    "/experiments/:id/ledger",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "Token ledger: planned vs consumed tokens per stage × phase × source",
        tags: ["runs"],
        params: IdOrNameParams,
        querystring: Type.Object({ stage: Type.Optional(Type.String({ maxLength: 128 })) }),
        response: { 200: Type.Array(LedgerRow), ...errors(401, 403, 404) },
      },
    },
    async (req) => {
      return loadLedger(app.prisma, await resolveId(app.prisma, "experiment", req.params.id, "params.id"), req.query.stage);
    },
  );
};
