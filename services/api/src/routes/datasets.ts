import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { NotFoundError } from "@tokenmill/domain";
import { errors, idOrName, ListQuery, page } from "../schemas.js";
import { resolveId } from "../resolve.js";

const VersionView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  fingerprint: Type.String(),
  store_uri: Type.String(),
  prefix: Type.String(),
  url: Type.String({ description: "Full URI of the version's folder." }),
  tokenizer: Type.String(),
  docs: Type.Integer(),
  tokens: Type.Integer(),
  bytes: Type.Integer(),
  shards: Type.Integer(),
  created_at: Type.String({ format: "date-time" }),
  run_id: Type.Union([Type.String(), Type.Null()], { description: "The curation run that wrote this version (not one that reused it); null if that run is gone." }),
});

const ShardView = Type.Object({
  position: Type.Integer(),
  key: Type.String(),
  url: Type.String(),
  rows: Type.Integer(),
  tokens: Type.Integer(),
  bytes: Type.Integer(),
  sha256: Type.String(),
});

const IdOrNameParams = idOrName("name (its newest version), or name@<fingerprint prefix>");
const join = (root: string, key: string) => `${root.replace(/\/+$/, "")}/${key}`;

/** Immutable, content-addressed dataset versions and their Arrow shards. */
export const datasetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const read = { onRequest: app.requireScope("read") };
  // The run that wrote the version: the first one that did not merely reuse it.
  const include = { _count: { select: { shards: true } }, runs: { where: { reusedVersion: false }, select: { id: true }, orderBy: { createdAt: "asc" as const }, take: 1 } };
  type Row = NonNullable<Awaited<ReturnType<typeof app.prisma.datasetVersion.findUnique>>> & { _count: { shards: number }; runs: Array<{ id: string }> };
  const view = (v: Row) => ({
    id: v.id,
    name: v.name,
    fingerprint: v.fingerprint,
    store_uri: v.storeUri,
    prefix: v.prefix,
    url: join(v.storeUri, v.prefix),
    tokenizer: v.tokenizer,
    docs: Number(v.docs),
    tokens: Number(v.tokens),
    bytes: Number(v.bytes),
    shards: v._count.shards,
    created_at: v.createdAt.toISOString(),
    run_id: v.runs[0]?.id ?? null,
  });
  // `ref`: an id, a name (newest version) or name@<fingerprint prefix>.
  const find = async (ref: string) => {
    const id = await resolveId(app.prisma, "dataset version", ref, "params.id");
    const v = await app.prisma.datasetVersion.findUnique({ where: { id }, include });
    if (!v) throw new NotFoundError("dataset version", ref, "params.id");
    return v;
  };

  app.get(
    "",
    {
      ...read,
      schema: {
        summary: "List dataset versions, newest first",
        tags: ["datasets"],
        querystring: Type.Intersect([ListQuery, Type.Object({ name: Type.Optional(Type.String({ maxLength: 300 })) })]),
        response: { 200: page(VersionView), ...errors(401, 403) },
      },
    },
    async (req) => {
      const where = req.query.name ? { name: req.query.name } : {};
      const [rows, total] = await Promise.all([
        app.prisma.datasetVersion.findMany({
          where,
          include,
          orderBy: { createdAt: "desc" },
          take: req.query.limit ?? 50,
          skip: req.query.offset ?? 0,
        }),
        app.prisma.datasetVersion.count({ where }),
      ]);
      return { items: rows.map(view), total };
    },
  );

  app.get(
    "/:id",
    { ...read, schema: { summary: "Get a dataset version", tags: ["datasets"], params: IdOrNameParams, response: { 200: VersionView, ...errors(401, 403, 404, 409) } } },
    async (req) => view(await find(req.params.id)),
  );

  app.get(
    "/:id/shards",
    {
      ...read,
      schema: { summary: "List a dataset version's shards", tags: ["datasets"], params: IdOrNameParams, response: { 200: Type.Object({ items: Type.Array(ShardView) }), ...errors(401, 403, 404, 409) } },
    },
    async (req) => {
      const v = await find(req.params.id);
      const shards = await app.prisma.shard.findMany({ where: { datasetVersionId: v.id }, orderBy: { position: "asc" } });
      return {
        items: shards.map((s) => ({
          position: s.position,
          key: s.key,
          url: join(v.storeUri, s.key),
          rows: s.rows,
          tokens: Number(s.tokens),
          bytes: Number(s.bytes),
          sha256: s.sha256,
        })),
      };
    },
  );

  app.get(
    "/:id/manifest",
    {
      ...read,
      schema: { summary: "A dataset version's manifest.json", tags: ["datasets"], params: IdOrNameParams, response: { 200: Type.Unknown(), ...errors(401, 403, 404, 409) } },
    },
    async (req) => (await find(req.params.id)).manifest,
  );

  app.get(
    "/:id/stats",
    {
      ...read,
      schema: { summary: "A dataset version's stats.json (per-step funnel)", tags: ["datasets"], params: IdOrNameParams, response: { 200: Type.Unknown(), ...errors(401, 403, 404, 409) } },
    },
    async (req) => {
      const v = await find(req.params.id);
      return JSON.parse((await app.store.get(`${v.prefix}stats.json`)).toString("utf8"));
    },
  );
};
