import fp from "fastify-plugin";
import type { FastifyReply, FastifyRequest } from "fastify";
import { hashApiToken, scopeAllows, type Scope } from "@tokenmill/domain";
import { errorBody } from "./errors.js";

declare module "fastify" {
  interface FastifyInstance {
    /**
     * onRequest hook that requires a bearer token holding `scope` (admin ⊃ write ⊃ read). It runs
     * before the body is parsed and validated, so an unauthenticated caller learns nothing about inputs.
     */
    requireScope(scope: Scope): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    token?: { id: string; name: string; scopes: Scope[] };
  }
}

/** `last_used_at` is written at most this often per token, so reads do not each become a write. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** The bearer token of an `Authorization` header, or null. */
export function bearer(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match ? match[1]! : null;
}

/** Bearer-token auth. Tokens are looked up by their sha256; the token itself is never stored. */
export const authPlugin = fp(
  async (app) => {
    app.decorateRequest("token", undefined);
    const unauthorized = (reply: FastifyReply, message: string) =>
      reply.status(401).header("www-authenticate", 'Bearer realm="tokenmill"').send(errorBody("unauthorized", message, "headers.authorization"));

    // The OpenAPI document states each operation's scope (`security: [{bearer: [scope]}]`), taken from
    // the hook itself so the spec cannot drift from what is enforced.
    app.addHook("onRoute", (route) => {
      const hooks = [route.onRequest ?? []].flat() as { requiredScope?: Scope }[];
      const scope = hooks.find((h) => h.requiredScope)?.requiredScope;
      if (scope) route.schema = { ...route.schema, security: [{ bearer: [scope] }] };
    });

    app.decorate("requireScope", (scope: Scope) => Object.assign(async (req: FastifyRequest, reply: FastifyReply) => {
      const secret = bearer(req);
      if (!secret) return unauthorized(reply, "missing bearer token (Authorization: Bearer tm_...)");
      const tokenHash = hashApiToken(secret);
      // A read: retried once on a dropped connection by the client (db-retry.ts).
      const row = await app.prisma.apiToken.findUnique({ where: { tokenHash } });
      if (!row || row.revokedAt) return unauthorized(reply, "invalid or revoked token");
      const scopes = row.scopes as Scope[];
      if (!scopeAllows(scopes, scope)) {
        return reply.status(403).send(errorBody("forbidden", `this token lacks the "${scope}" scope (has: ${scopes.join(", ")})`, "headers.authorization"));
      }
      req.token = { id: row.id, name: row.name, scopes };
      const now = Date.now();
      if (!row.lastUsedAt || now - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
        // Conditional, so concurrent requests of one token write once; a failure costs the request nothing.
        await app.prisma.apiToken
          .updateMany({ where: { id: row.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now - LAST_USED_RESOLUTION_MS) } }] }, data: { lastUsedAt: new Date(now) } })
          .catch((err: unknown) => req.log.warn({ err }, "could not record the token's last use"));
      }
    }, { requiredScope: scope }));
  },
  { name: "auth", dependencies: ["services", "errors"] },
);
