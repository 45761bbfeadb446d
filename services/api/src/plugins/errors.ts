import fp from "fastify-plugin";
import type { FastifyError } from "fastify";
import { TokenmillError } from "@tokenmill/domain";

/**
 * The one place errors become HTTP responses: typed domain errors map to their 4xx, request
 * validation to 400 naming the field, and anything unexpected to a 500 whose details stay in the log.
 */
export const errorsPlugin = fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError & { field?: string }, req, reply) => {
      if (err instanceof TokenmillError) {
        const field = (err as { field?: string }).field;
        return reply.status(err.statusCode).send({ error: err.code, message: err.message, ...(field ? { field } : {}) });
      }
      if (err.validation) {
        const first = err.validation[0];
        const where = err.validationContext ?? "body";
        const path = first?.instancePath ? first.instancePath.replace(/^\//, "").replaceAll("/", ".") : "";
        const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
        const field = [where, path, missing].filter(Boolean).join(".");
        return reply.status(400).send({ error: "validation_error", message: `${field}: ${first?.message ?? err.message}`, field });
      }
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return reply.status(status).send({ error: err.code?.toLowerCase() ?? "bad_request", message: err.message });
      }
      req.log.error({ err }, "unhandled error");
      return reply.status(500).send({ error: "internal_error", message: "internal error" });
    });
    app.setNotFoundHandler((req, reply) => {
      reply.status(404).send({ error: "not_found", message: `no route ${req.method} ${req.url}` });
    });
  },
  { name: "errors" },
);
