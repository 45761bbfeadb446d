import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import {
  budgetRows,
  ConflictError,
  datasetInfoFromManifest,
  NotFoundError,
  parseRecipe,
  planMixture,
  recipeHash,
  ValidationError,
  type DatasetInfo,
  type Manifest,
  type MixturePlan,
  type MixtureSpec,
} from "@tokenmill/domain";
import { errors, IdOrNameParams, ListQuery, page } from "../schemas.js";
import { resolveId } from "../resolve.js";
import { recipeApplyRoutes } from "./recipe-apply.js";

const NAME = "^[a-z0-9][a-z0-9._-]{0,127}$";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const MixtureBody = Type.Object(
  {
    name: Type.String({ pattern: NAME }),
    seed: Type.Integer({ minimum: 0, maximum: 4294967295, description: "Keys every permutation of the sampler." }),
    seq_len: Type.Integer({ minimum: 1 }),
    tokenizer: Type.String({ maxLength: 64, description: "Tokenizer id every dataset version must share, e.g. llama3." }),
    block_size: Type.Optional(Type.Integer({ minimum: 1, description: "Sequences per interleaving block (default 65,536)." })),
    phases: Type.Array(Type.Unknown(), { minItems: 1, description: "[{name, tokens?, components: [{name, dataset, weight | repeat | tokens, max_epochs?}], schedule?}]" }),
  },
  { additionalProperties: false },
);

const BudgetRow = Type.Object({
  phase: Type.String(),
  source: Type.String(),
  tokens: Type.Integer(),
  share: Type.Number(),
  available_tokens: Type.Union([Type.Integer(), Type.Null()]),
  epochs: Type.Union([Type.Number(), Type.Null()]),
});

const MixtureView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  fingerprint: Type.String(),
  spec: Type.Unknown(),
  plan: Type.Unknown({ description: "The normalized plan (contract 4) the sampler reads." }),
  created_at: Type.String({ format: "date-time" }),
});

const ExperimentView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  recipe_hash: Type.String(),
  recipe: Type.Unknown(),
  mixtures: Type.Array(Type.Object({ stage: Type.String(), mixture_id: Type.String(), fingerprint: Type.String() })),
  created_at: Type.String({ format: "date-time" }),
});

/** Rewrites a domain ValidationError's field into the request's namespace (`body.phases[0]…`). */
function inBody<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ValidationError) {
      const field = err.field ? `${prefix}.${err.field}` : prefix;
      throw new ValidationError(err.field ? err.message.slice(err.field.length + 2) : err.message, field);
    }
    throw err;
  }
}

type MixtureRow = { id: string; name: string; fingerprint: string; spec: unknown; plan: unknown; createdAt: Date };
const mixtureView = (m: MixtureRow) => ({ id: m.id, name: m.name, fingerprint: m.fingerprint, spec: m.spec, plan: m.plan, created_at: m.createdAt.toISOString() });

/** Mixtures (token budgets over dataset versions), their plans, and experiments made from recipes. */
export const mixtureRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(recipeApplyRoutes);
  const read = { onRequest: app.requireScope("read") };
  const write = { onRequest: app.requireScope("write") };

  /** Loads every dataset version a spec references: by id, by fingerprint, or by name (newest). */
  async function resolver(spec: MixtureSpec) {
    const refs = new Set<string>();
    for (const ph of Array.isArray(spec.phases) ? spec.phases : []) for (const c of Array.isArray(ph?.components) ? ph.components : []) if (typeof c?.dataset === "string") refs.add(c.dataset);
    const found = new Map<string, { id: string; info: DatasetInfo; manifest: Manifest }>();
    for (const ref of refs) {
      const v = UUID_RE.test(ref)
        ? await app.prisma.datasetVersion.findUnique({ where: { id: ref } })
        : ((await app.prisma.datasetVersion.findUnique({ where: { fingerprint: ref } })) ??
          (await app.prisma.datasetVersion.findFirst({ where: { name: ref }, orderBy: { createdAt: "desc" } })));
      if (v) {
        const manifest = v.manifest as unknown as Manifest;
        // Keyed by fingerprint, not row id: the same recipe over the same data plans (and samples)
        // identically in any deployment.
        found.set(ref, { id: v.id, manifest, info: datasetInfoFromManifest(v.fingerprint, manifest) });
      }
    }
    return {
      found,
      resolve: (ref: string, field: string) => {
        const f = found.get(ref);
        if (!f) throw new ValidationError(`unknown dataset version ${JSON.stringify(ref)} (give a dataset-version id, fingerprint or name)`, field);
        return f.info;
      },
    };
  }

  async function plan(spec: MixtureSpec, prefix = "body") {
    const { found, resolve } = await resolver(spec);
    const p = inBody(prefix, () => planMixture(spec, resolve));
    const idOf = new Map([...found.values()].map((f) => [f.info.key, f.id]));
    return { plan: p, idOf };
  }

  async function createMixture(name: string, spec: MixtureSpec, prefix = "body", tx = app.prisma) {
    const { plan: p, idOf } = await plan(spec, prefix);
    if (await tx.mixture.findUnique({ where: { name } })) throw new ConflictError(`a mixture named ${name} exists`, "body.name");
    return tx.mixture.create({
      data: {
        name,
        seed: BigInt(p.seed),
        seqLen: p.seq_len,
        tokenizer: p.tokenizer,
        spec: spec as object,
        plan: p as object,
        fingerprint: p.fingerprint,
        tokens: BigInt(p.tokens),
        components: {
          create: p.phases.flatMap((ph) =>
            ph.components.map((c, i) => {
              const [form, value] = Object.entries(c.form)[0]!;
              return { phase: ph.name, position: i, name: c.name, datasetVersionId: idOf.get(c.dataset)!, form, value, maxEpochs: c.max_epochs, tokens: BigInt(c.tokens), epochs: c.epochs ?? 0 };
            }),
          ),
        },
      },
    });
  }

  app.post(
    "/mixtures",
    {
      ...write,
      schema: {
        summary: "Create a mixture; it is planned at once and rejected (400, naming the field) if it cannot be",
        tags: ["mixtures"],
        body: MixtureBody,
        response: { 201: MixtureView, ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => {
      const { name, ...spec } = req.body;
      const row = await createMixture(name, spec as MixtureSpec);
      return reply.status(201).send(mixtureView(row));
    },
  );

  app.post(
    "/mixtures/plan",
    {
      ...read,
      schema: { summary: "Plan a mixture without saving it (dry run)", tags: ["mixtures"], body: MixtureBody, response: { 200: Type.Unknown(), ...errors(400, 401, 403) } },
    },
    async (req) => {
      const { name: _name, ...spec } = req.body;
      return (await plan(spec as MixtureSpec)).plan;
    },
  );

  app.get(
    "/mixtures",
    { ...read, schema: { summary: "List mixtures", tags: ["mixtures"], querystring: ListQuery, response: { 200: page(MixtureView), ...errors(401, 403) } } },
    async (req) => {
      const [rows, total] = await Promise.all([
        app.prisma.mixture.findMany({ orderBy: { createdAt: "desc" }, take: req.query.limit ?? 50, skip: req.query.offset ?? 0 }),
        app.prisma.mixture.count(),
      ]);
      return { items: rows.map(mixtureView), total };
    },
  );

  const loadMixture = async (id: string) => {
    const m = await app.prisma.mixture.findUnique({ where: { id } });
    if (!m) throw new NotFoundError("mixture", id);
    return m;
  };
  /** A mixture named in the path, by id or name. */
  const findMixture = async (ref: string) => loadMixture(await resolveId(app.prisma, "mixture", ref, "params.id"));

  app.get("/mixtures/:id", { ...read, schema: { summary: "Get a mixture with its plan", tags: ["mixtures"], params: IdOrNameParams, response: { 200: MixtureView, ...errors(401, 403, 404) } } }, async (req) =>
    mixtureView(await findMixture(req.params.id)),
  );

  app.post(
    "/mixtures/:id/plan",
    {
      ...read,
      schema: {
        summary: "Re-plan a mixture against its dataset versions' manifests (same fingerprint: versions are immutable)",
        tags: ["mixtures"],
        params: IdOrNameParams,
        response: { 200: Type.Unknown(), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => (await plan((await findMixture(req.params.id)).spec as unknown as MixtureSpec, "spec")).plan,
  );

  app.get(
    "/mixtures/:id/budget",
    { ...read, schema: { summary: "Budget table: per phase × source tokens, share, available tokens, epochs", tags: ["mixtures"], params: IdOrNameParams, response: { 200: Type.Array(BudgetRow), ...errors(401, 403, 404) } } },
    async (req) => budgetRows((await findMixture(req.params.id)).plan as unknown as MixturePlan),
  );

  // Experiments: a recipe applied to dataset versions. Mixtures (one per stage) are created in the
  // same transaction, so a bad stage leaves nothing behind.
  const ExperimentBody = Type.Object(
    {
      name: Type.String({ pattern: NAME }),
      recipe: Type.Unknown({ description: "The recipe document (recipe_version 1)." }),
      datasets: Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 300 }), { description: "recipe source name → dataset version id, fingerprint or name" }),
    },
    { additionalProperties: false },
  );
  type ExperimentRow = { id: string; name: string; recipeHash: string; recipe: unknown; createdAt: Date; mixtures: { stage: string; mixtureId: string; mixture: { fingerprint: string } }[] };
  const experimentView = (e: ExperimentRow) => ({
    id: e.id,
    name: e.name,
    recipe_hash: e.recipeHash,
    recipe: e.recipe,
    mixtures: e.mixtures.map((m) => ({ stage: m.stage, mixture_id: m.mixtureId, fingerprint: m.mixture.fingerprint })),
    created_at: e.createdAt.toISOString(),
  });
  const withMixtures = { mixtures: { include: { mixture: { select: { fingerprint: true } } }, orderBy: { position: "asc" as const } } };

  app.post(
    "/experiments",
    {
      ...write,
      schema: {
        summary: "Create an experiment from a recipe and the dataset versions of its sources; creates one mixture per stage",
        tags: ["experiments"],
        body: ExperimentBody,
        response: { 201: ExperimentView, ...errors(400, 401, 403, 409) },
      },
    },
    async (req, reply) => {
      const recipe = inBody("body.recipe", () => parseRecipe(req.body.recipe));
      const { name, datasets } = req.body;
      for (const s of recipe.sources) if (!datasets[s.name]) throw new ValidationError(`no dataset version given for source ${s.name}`, `body.datasets.${s.name}`);
      for (const k of Object.keys(datasets)) if (!recipe.sources.some((s) => s.name === k)) throw new ValidationError("not a source of the recipe", `body.datasets.${k}`);
      if (await app.prisma.experiment.findUnique({ where: { name } })) throw new ConflictError(`an experiment named ${name} exists`, "body.name");
      const specs = recipe.stages.map((st, si) => ({
        stage: st.name,
        si,
        spec: {
          seed: recipe.seed,
          seq_len: st.seq_len,
          tokenizer: recipe.tokenizer,
          ...(st.block_size ? { block_size: st.block_size } : {}),
          phases: st.phases.map((ph) => ({
            name: ph.name,
            ...(ph.tokens !== undefined ? { tokens: ph.tokens } : {}),
            components: ph.mix.map(({ source, ...form }) => ({ name: source, dataset: datasets[source]!, ...form })),
            ...(ph.schedule ? { schedule: ph.schedule } : {}),
          })),
        } as MixtureSpec,
      }));
      // Plan everything before writing anything.
      for (const s of specs) await plan(s.spec, `body.recipe.stages[${s.si}]`);
      const row = await app.prisma.$transaction(async (tx) => {
        const mixtures = [];
        for (const s of specs) mixtures.push(await createMixture(`${name}.${s.stage}`, s.spec, `body.recipe.stages[${s.si}]`, tx as typeof app.prisma));
        return tx.experiment.create({
          data: {
            name,
            recipe: recipe as object,
            recipeHash: recipeHash(recipe),
            model: recipe.model as object,
            training: Object.fromEntries(recipe.stages.flatMap((st) => st.phases.map((p) => [p.name, p.training]))) as object,
            mixtures: { create: mixtures.map((m, i) => ({ mixtureId: m.id, stage: specs[i]!.stage, position: i })) },
          },
          include: withMixtures,
        });
      });
      return reply.status(201).send(experimentView(row));
    },
  );

  /** An experiment named in the path, by id or name. */
  const findExperiment = async (ref: string) => {
    const e = await app.prisma.experiment.findUnique({ where: { id: await resolveId(app.prisma, "experiment", ref, "params.id") }, include: withMixtures });
    if (!e) throw new NotFoundError("experiment", ref, "params.id");
    return e;
  };

  app.get(
    "/experiments",
    { ...read, schema: { summary: "List experiments", tags: ["experiments"], querystring: ListQuery, response: { 200: page(ExperimentView), ...errors(401, 403) } } },
    async (req) => {
      const [rows, total] = await Promise.all([
        app.prisma.experiment.findMany({ include: withMixtures, orderBy: { createdAt: "desc" }, take: req.query.limit ?? 50, skip: req.query.offset ?? 0 }),
        app.prisma.experiment.count(),
      ]);
      return { items: rows.map(experimentView), total };
    },
  );

  app.get("/experiments/:id", { ...read, schema: { summary: "Get an experiment with its recipe", tags: ["experiments"], params: IdOrNameParams, response: { 200: ExperimentView, ...errors(401, 403, 404) } } }, async (req) =>
    experimentView(await findExperiment(req.params.id)),
  );

  app.get(
    "/experiments/:id/budget",
    {
      ...read,
      schema: {
        summary: "Planned token budgets of every stage and phase of an experiment",
        tags: ["experiments"],
        params: IdOrNameParams,
        response: { 200: Type.Array(Type.Intersect([Type.Object({ stage: Type.String(), mixture_id: Type.String() }), BudgetRow])), ...errors(401, 403, 404) },
      },
    },
    async (req) => {
      const e = await findExperiment(req.params.id);
      const out = [];
      for (const m of e.mixtures) {
        const mix = await loadMixture(m.mixtureId);
        for (const r of budgetRows(mix.plan as unknown as MixturePlan)) out.push({ stage: m.stage, mixture_id: m.mixtureId, ...r });
      }
      return out;
    },
  );
};
