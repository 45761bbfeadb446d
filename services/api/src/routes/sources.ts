import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { ConflictError, NotFoundError, UnreachableError, ValidationError } from "@tokenmill/domain";
import { type InputFile, type InputOptions, listInputs } from "@tokenmill/storage";
import { errors, IdOrNameParams, ListQuery, page } from "../schemas.js";
import { resolveId } from "../resolve.js";

export const SourceView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  uri: Type.String(),
  format: Type.String(),
  text_field: Type.String(),
  id_field: Type.String(),
  created_at: Type.String({ format: "date-time" }),
});

type Row = { id: string; name: string; uri: string; format: string; textField: string; idField: string; createdAt: Date };
export const sourceView = (s: Row) => ({
  id: s.id,
  name: s.name,
  uri: s.uri,
  format: s.format,
  text_field: s.textField,
  id_field: s.idField,
  created_at: s.createdAt.toISOString(),
});

const SCHEMES = ["file:", "s3:", "http:", "https:"];

/** Datasets as registered by users: a URI to JSONL / JSONL.gz files (a file, a folder, a glob, a prefix). */
export const sourceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    "",
    {
      onRequest: app.requireScope("write"),
      schema: {
        summary: "Register a source; its URI is probed and must list at least one file",
        tags: ["sources"],
        body: Type.Object(
          {
            name: Type.String({ pattern: "^[a-z0-9][a-z0-9._-]{0,127}$", description: "Unique name; also the default dataset name." }),
            uri: Type.String({ minLength: 1, maxLength: 4096, description: "file:///dir/or/glob*.jsonl.gz, s3://bucket/prefix/, https://host/file.jsonl" }),
            format: Type.Optional(
              Type.Union(
                [Type.Literal("auto"), Type.Literal("jsonl"), Type.Literal("jsonl.gz"), Type.Literal("jsonl.zst"), Type.Literal("parquet"), Type.Literal("arrow")],
                {
                  default: "auto",
                  description: "How files are read: auto (by extension, then magic bytes), jsonl, jsonl.gz, jsonl.zst, parquet, arrow (IPC file or stream).",
                },
              ),
            ),
            text_field: Type.Optional(Type.String({ minLength: 1, maxLength: 256, default: "text" })),
            id_field: Type.Optional(Type.String({ minLength: 1, maxLength: 256, default: "id" })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Intersect([SourceView, Type.Object({ files: Type.Integer(), bytes: Type.Integer() })]), ...errors(400, 401, 403, 409, 422) },
      },
    },
    async (req, reply) => {
      const { name, uri } = req.body;
      let scheme: string;
      try {
        scheme = uri.startsWith("/") ? "file:" : new URL(uri).protocol;
      } catch {
        throw new ValidationError("not a valid URI", "body.uri");
      }
      if (!SCHEMES.includes(scheme)) throw new ValidationError(`unsupported scheme "${scheme}"; use file://, s3://, http:// or https://`, "body.uri");
      if (await app.prisma.source.findUnique({ where: { name } })) throw new ConflictError(`a source named "${name}" already exists`);
      const files = await probeSource(uri, { s3: app.config.s3, policy: app.config.sourcePolicy, logger: req.log }, "body.uri");
      if (files.length === 0) throw new UnreachableError(uri, "no data files (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .arrow) found", "body.uri");
      const row = await app.prisma.source.create({
        data: { name, uri, format: req.body.format ?? "auto", textField: req.body.text_field ?? "text", idField: req.body.id_field ?? "id" },
      });
      return reply.status(201).send({ ...sourceView(row), files: files.length, bytes: files.reduce((a, f) => a + f.size, 0) });
    },
  );

  app.get(
    "",
    { onRequest: app.requireScope("read"), schema: { summary: "List sources", tags: ["sources"], querystring: ListQuery, response: { 200: page(SourceView), ...errors(401, 403) } } },
    async (req) => {
      const [rows, total] = await Promise.all([
        app.prisma.source.findMany({ orderBy: { createdAt: "desc" }, take: req.query.limit ?? 50, skip: req.query.offset ?? 0 }),
        app.prisma.source.count(),
      ]);
      return { items: rows.map(sourceView), total };
    },
  );

  app.get(
    "/:id",
    { onRequest: app.requireScope("read"), schema: { summary: "Get a source by id or name", tags: ["sources"], params: IdOrNameParams, response: { 200: SourceView, ...errors(401, 403, 404) } } },
    async (req) => {
      const id = await resolveId(app.prisma, "source", req.params.id, "params.id");
      const row = await app.prisma.source.findUnique({ where: { id } });
      if (!row) throw new NotFoundError("source", req.params.id, "params.id");
      return sourceView(row);
    },
  );
};

/**
 * Lists a source's files through the source guard (the same one a run goes through), with any
 * refusal or failure reported against `field`: 400 when the guard refuses the URI, 422 when it
 * cannot be read.
 */
export async function probeSource(uri: string, opts: InputOptions, field: string): Promise<InputFile[]> {
  try {
    return await listInputs(uri, opts);
  } catch (err) {
    if (err instanceof UnreachableError) throw new UnreachableError(uri, err.message.replace(`${uri} is unreachable: `, ""), field);
    if (err instanceof ValidationError && !err.field) throw new ValidationError(err.message, field);
    throw err;
  }
}
