import fp from "fastify-plugin";
import type { PrismaClient } from "@tokenmill/db";
import type { Queues } from "@tokenmill/queues";
import type { ObjectStore } from "@tokenmill/storage";
import type { ApiConfig } from "../config.js";
import { withReadRetry } from "./db-retry.js";

declare module "fastify" {
  interface FastifyInstance {
    prisma: PrismaClient;
    queues: Queues;
    store: ObjectStore;
    config: ApiConfig;
  }
}

export interface Services {
  prisma: PrismaClient;
  queues: Queues;
  store: ObjectStore;
  config: ApiConfig;
}

/** Exposes the clients built by server.ts (or by a test) as typed decorators. */
export const servicesPlugin = fp<Services>(
  async (app, deps) => {
    app.decorate("prisma", withReadRetry(deps.prisma));
    app.decorate("queues", deps.queues);
    app.decorate("store", deps.store);
    app.decorate("config", deps.config);
  },
  { name: "services" },
);
