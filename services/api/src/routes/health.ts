import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";

const Health = Type.Object({ ok: Type.Boolean(), postgres: Type.Boolean(), redis: Type.Boolean() });

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    "/healthz",
    {
      schema: {
        summary: "Liveness and dependency check (no auth)",
        tags: ["system"],
        security: [],
        response: { 200: Health, 503: Health },
      },
    },
    async (_req, reply) => {
      const postgres = await app.prisma.$queryRaw`SELECT 1`.then(() => true, () => false);
      const redis = await app.queues.connection.ping().then((r) => r === "PONG", () => false);
      return reply.status(postgres && redis ? 200 : 503).send({ ok: postgres && redis, postgres, redis });
    },
  );
};
