import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { NotFoundError, ValidationError } from "@tokenmill/domain";
import { getClassifierMeta, listClassifiers, trainAndStoreClassifier, trainClassifierInChild, DEFAULT_TRAIN_CONFIG } from "@tokenmill/curation/classifier";
import { errors } from "../schemas.js";

const NAME = "^[a-z0-9][a-z0-9._-]{0,127}$";
const d = DEFAULT_TRAIN_CONFIG;

/** Summary of a stored classifier version (its full meta.json is under `meta`). */
export const ClassifierView = Type.Object({
  name: Type.String(),
  version: Type.String({ description: "First 16 hex digits of the sha256 of model.bin (content-addressed)." }),
  model_uri: Type.String(),
  created_at: Type.String(),
  accuracy: Type.Number({ description: "Held-out accuracy at threshold 0.5." }),
  baseline_accuracy: Type.Number({ description: "Held-out accuracy of always predicting the training majority class." }),
  auc: Type.Union([Type.Number(), Type.Null()], { description: "Held-out ROC AUC." }),
  meta: Type.Unknown({ description: "meta.json: metrics, training data identity, config, artifact header." }),
});

/**
 * Quality classifiers (hashed word n-gram fastText models, DCLM-style) trained from a registered
 * source with a label field. Artifacts and their metadata live on the object store under
 * `classifiers/<name>/<version>/{model.bin,meta.json}`; no database table is involved.
 */
export const classifierRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const view = (m: Awaited<ReturnType<typeof getClassifierMeta>>) => ({
    name: m.name,
    version: m.version,
    model_uri: app.store.url(`classifiers/${m.name}/${m.version}/model.bin`),
    created_at: m.created_at,
    accuracy: m.metrics.accuracy,
    baseline_accuracy: m.metrics.baseline_accuracy,
    auc: m.metrics.auc,
    meta: m,
  });

  app.post(
    "/classifiers",
    {
      onRequest: app.requireScope("write"),
      schema: {
        summary: "Train a quality classifier from a labelled source (synchronously; meant for small data, up to ~100 MB)",
        description:
          "Binary: documents whose `label_field` (a dotted path into the record, e.g. `meta.label`) equals `positive_label` against the rest. A seeded hash of each id holds out `holdout_fraction` of the examples; the response carries held-out accuracy and AUC. The same data and config give the same bytes, hence the same version (200 when it already exists).",
        tags: ["classifiers"],
        body: Type.Object(
          {
            name: Type.String({ pattern: NAME }),
            source: Type.String({ minLength: 1, maxLength: 300, description: "Id or name of a registered source." }),
            label_field: Type.String({ minLength: 1, maxLength: 256, description: "Dotted path of the label in each record, e.g. `label` or `meta.label`." }),
            positive_label: Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean()], { description: "Label value of the positive (high-quality) class." }),
            holdout_fraction: Type.Optional(Type.Number({ minimum: 0, maximum: 0.9, default: d.holdout_fraction })),
            seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, default: d.seed })),
            word_ngrams: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, default: d.word_ngrams })),
            buckets: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1 << 22, default: d.buckets })),
            dim: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: d.dim })),
            epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: d.epochs })),
            lr: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 10, default: d.lr })),
            min_count: Type.Optional(Type.Integer({ minimum: 1, default: d.min_count })),
            lowercase: Type.Optional(Type.Boolean({ default: d.lowercase })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ClassifierView, 201: ClassifierView, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const { name, source: ref, label_field, positive_label, ...config } = req.body;
      const source =
        (await app.prisma.source.findUnique({ where: { name: ref } })) ??
        (/^[0-9a-f-]{36}$/i.test(ref) ? await app.prisma.source.findUnique({ where: { id: ref } }) : null);
      if (!source) throw new NotFoundError("source", ref, "body.source");
      if (source.format !== "auto" && source.format !== "jsonl" && source.format !== "jsonl.gz") {
        throw new ValidationError(`source format ${source.format} is not supported for training`, "body.source");
      }
      const before = (await listClassifiers(app.store, name)).map((m) => m.version);
      const meta = await trainAndStoreClassifier(app.store, {
        name,
        uri: source.uri,
        source: { id: source.id, name: source.name },
        reader: { format: source.format, text_field: source.textField, id_field: source.idField },
        label_field,
        config: { ...config, positive_label: String(positive_label) },
        // In a child process: the API keeps answering while fastText trains.
        train: trainClassifierInChild,
        // Re-checked here: the source may predate the current FILE_SOURCE_ROOTS / HTTP_SOURCE_ALLOW.
        input: { s3: app.config.s3, policy: app.config.sourcePolicy, logger: req.log },
      });
      return reply.status(before.includes(meta.version) ? 200 : 201).send(view(meta));
    },
  );

  app.get(
    "/classifiers",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "List classifier versions (newest first within a name)",
        tags: ["classifiers"],
        querystring: Type.Object({ name: Type.Optional(Type.String({ pattern: NAME })) }),
        response: { 200: Type.Object({ items: Type.Array(ClassifierView), total: Type.Integer() }), ...errors(401, 403) },
      },
    },
    async (req) => {
      const items = (await listClassifiers(app.store, req.query.name)).map(view);
      return { items, total: items.length };
    },
  );

  app.get(
    "/classifiers/:name/:version",
    {
      onRequest: app.requireScope("read"),
      schema: {
        summary: "Get one classifier version (`latest` for the newest)",
        tags: ["classifiers"],
        params: Type.Object({ name: Type.String({ pattern: NAME }), version: Type.String({ pattern: "^([0-9a-f]{16}|latest)$" }) }),
        response: { 200: ClassifierView, ...errors(401, 403, 404) },
      },
    },
    async (req) => {
      const { name, version } = req.params;
      if (version === "latest") {
        const all = await listClassifiers(app.store, name);
        if (!all[0]) throw new NotFoundError("classifier", name);
        return view(all[0]);
      }
      return view(await getClassifierMeta(app.store, name, version));
    },
  );
};
