import fp from "fastify-plugin";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { ErrorBody } from "../schemas.js";

/** OpenAPI 3.1 document at /openapi.json and an interactive docs UI at /docs. */
export const openapiPlugin = fp(
  async (app) => {
    app.addSchema(ErrorBody);
    await app.register(swagger, {
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "tokenmill API",
          version: "0.1.0",
          description: "Register datasets, define curation pipelines, run them into Arrow dataset versions.",
        },
        components: {
          securitySchemes: {
            bearer: { type: "http", scheme: "bearer", description: "An API token (tm_...); an operation lists the scope it needs." },
            runToken: { type: "http", scheme: "bearer", description: "A training run's own token, good only for that run's progress reports." },
            ticket: { type: "apiKey", in: "query", name: "ticket", description: "From POST /events/tickets (EventSource cannot send headers); valid 60 s." },
          },
        },
        security: [{ bearer: [] }],
      },
      refResolver: { buildLocalReference: (json, _base, _frag, i) => (json.$id as string) ?? `def-${i}` },
    });
    await app.register(swaggerUi, { routePrefix: "/docs" });
    app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  },
  { name: "openapi" },
);
