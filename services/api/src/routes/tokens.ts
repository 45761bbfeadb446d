import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { NotFoundError, newApiToken } from "@tokenmill/domain";
import { errors, IdParams, Scope } from "../schemas.js";

const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: "First characters of the token, to recognise it." }),
  scopes: Type.Array(Scope),
  created_at: Type.String({ format: "date-time" }),
  last_used_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
  revoked_at: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});

type Row = { id: string; name: string; prefix: string; scopes: string[]; createdAt: Date; lastUsedAt: Date | null; revokedAt: Date | null };
const view = (t: Row) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  scopes: t.scopes as ("read" | "write" | "admin")[],
  created_at: t.createdAt.toISOString(),
  last_used_at: t.lastUsedAt?.toISOString() ?? null,
  revoked_at: t.revokedAt?.toISOString() ?? null,
});

/** API tokens (admin scope). The secret is returned once, at creation. */
export const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = { onRequest: app.requireScope("admin") };
  app.post(
    "",
    {
      ...admin,
      schema: {
        summary: "Create an API token; the secret is shown only in this response",
        tags: ["tokens"],
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 200 }), scopes: Type.Array(Scope, { minItems: 1, uniqueItems: true }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Intersect([TokenInfo, Type.Object({ token: Type.String() })]), ...errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const secret = newApiToken();
      const row = await app.prisma.apiToken.create({
        data: { name: req.body.name, scopes: req.body.scopes, prefix: secret.prefix, tokenHash: secret.hash },
      });
      return reply.status(201).send({ ...view(row), token: secret.token });
    },
  );
  app.get(
    "",
    { ...admin, schema: { summary: "List API tokens (without secrets)", tags: ["tokens"], response: { 200: Type.Object({ items: Type.Array(TokenInfo) }), ...errors(401, 403) } } },
    async () => ({ items: (await app.prisma.apiToken.findMany({ orderBy: { createdAt: "asc" } })).map(view) }),
  );
  app.delete(
    "/:id",
    { ...admin, schema: { summary: "Revoke an API token", tags: ["tokens"], params: IdParams, response: { 200: TokenInfo, ...errors(401, 403, 404) } } },
    async (req) => {
      const found = await app.prisma.apiToken.findUnique({ where: { id: req.params.id } });
      if (!found) throw new NotFoundError("token", req.params.id);
      return view(await app.prisma.apiToken.update({ where: { id: found.id }, data: { revokedAt: found.revokedAt ?? new Date() } }));
    },
  );
};
