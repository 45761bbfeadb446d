import fp from "fastify-plugin";
import type { FastifyReply, FastifyRequest } from "fastify";
import { hashApiToken, scopeAllows, type Scope } from "@tokenmill/domain";

declare module "fastify" {
  interface FastifyInstance {
    /** preHandler that requires a bearer token holding `scope` (admin ⊃ write ⊃ read). */
    requireScope(scope: Scope): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    token?: { id: string; name: string; scopes: Scope[] };
  }
}

/** Bearer-token auth. Tokens are looked up by their sha256; the token itself is never stored. */
export const authPlugin = fp(
  async (app) => {
    app.decorateRequest("token", undefined);
    app.decorate("requireScope", (scope: Scope) => async (req: FastifyRequest, reply: FastifyReply) => {
      const header = req.headers.authorization;
      const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!match) {
        return reply
          .status(401)
          .header("www-authenticate", 'Bearer realm="tokenmill"')
          .send({ error: "unauthorized", message: "missing bearer token (Authorization: Bearer tm_...)" });
      }
      const row = await app.prisma.apiToken.findUnique({ where: { tokenHash: hashApiToken(match[1]!) } });
      if (!row || row.revokedAt) {
        return reply.status(401).send({ error: "unauthorized", message: "invalid or revoked token" });
      }
      const scopes = row.scopes as Scope[];
      if (!scopeAllows(scopes, scope)) {
        return reply.status(403).send({ error: "forbidden", message: `this token lacks the "${scope}" scope (has: ${scopes.join(", ")})` });
      }
      req.token = { id: row.id, name: row.name, scopes };
    });
  },
  { name: "auth", dependencies: ["services"] },
);
