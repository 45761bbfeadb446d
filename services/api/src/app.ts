import Fastify, { type FastifyServerOptions } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { servicesPlugin, type Services } from "./plugins/services.js";
import { clientErrorHandler, errorsPlugin, frameworkErrors } from "./plugins/errors.js";
import { serializers } from "./plugins/logging.js";
import { validationPlugin } from "./plugins/validation.js";
import { authPlugin } from "./plugins/auth.js";
import { openapiPlugin } from "./plugins/openapi.js";
import { healthRoutes } from "./routes/health.js";
import { tokenRoutes } from "./routes/tokens.js";
import { sourceRoutes } from "./routes/sources.js";
import { pipelineRoutes } from "./routes/pipelines.js";
import { curationRunRoutes } from "./routes/curation-runs.js";
import { datasetRoutes } from "./routes/datasets.js";
import { mixtureRoutes } from "./routes/mixtures.js";
import { queueRoutes } from "./routes/queues.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { curationDroppedRoutes } from "./routes/curation-dropped.js";
import { launchQueuePlugin } from "./routes/launch-queue.js";
import { runRoutes } from "./routes/runs.js";
import { experimentRunRoutes } from "./routes/experiment-runs.js";
import { classifierRoutes } from "./routes/classifiers.js";
import { runHistoryRoutes } from "./routes/run-history.js";

/**
 * Builds the API from already-constructed clients; server.ts owns env, clients and signals.
 * Tests call this with real PostgreSQL, Redis and object stores and drive it with inject().
 */
export async function buildApp(services: Services, opts: FastifyServerOptions = {}) {
  const logger = opts.logger === true ? { serializers } : typeof opts.logger === "object" ? { serializers, ...opts.logger } : (opts.logger ?? false);
  const app = Fastify({
    bodyLimit: 10 * 1024 * 1024,
    // JSON bodies with __proto__ or constructor.prototype are refused (400), not stripped.
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    frameworkErrors,
    clientErrorHandler,
    // Path parameters may be names (up to 128 characters, plus @version or @<fingerprint prefix>);
    // Fastify's default of 100 would answer such a name 414. Schemas bound each parameter further.
    routerOptions: { maxParamLength: 256 },
    ...opts,
    // After opts: a logger Fastify builds gets the redacting serializers too (see plugins/logging.ts).
    logger: opts.loggerInstance ? undefined : logger,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(servicesPlugin, services);
  await app.register(errorsPlugin);
  await app.register(validationPlugin);
  // Before openapi: auth's onRoute hook writes each operation's scope into the schema swagger reads.
  await app.register(authPlugin);
  await app.register(openapiPlugin);

  await app.register(healthRoutes);
  await app.register(tokenRoutes, { prefix: "/tokens" });
  await app.register(sourceRoutes, { prefix: "/sources" });
  await app.register(pipelineRoutes, { prefix: "/pipelines" });
  await app.register(curationRunRoutes, { prefix: "/curation-runs" });
  await app.register(datasetRoutes, { prefix: "/dataset-versions" });
  await app.register(mixtureRoutes);
  await app.register(queueRoutes, { prefix: "/queues" });
  await app.register(dashboardRoutes);
  await app.register(curationDroppedRoutes, { prefix: "/curation-runs" });
  await app.register(launchQueuePlugin);
  await app.register(runRoutes);
  await app.register(experimentRunRoutes);
  await app.register(classifierRoutes);
  await app.register(runHistoryRoutes);
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
