import fp from "fastify-plugin";
import { Queue } from "bullmq";
import { LAUNCH_QUEUE } from "@tokenmill/domain";
import { asBullConnection } from "@tokenmill/queues";

declare module "fastify" {
  interface FastifyInstance {
    /** The launcher's queue (jobs.launchRun), on the same Redis connection and prefix as the others. */
    launchQueue: Queue;
  }
}

export const launchQueuePlugin = fp(
  async (app) => {
    const queue = new Queue(LAUNCH_QUEUE, { connection: asBullConnection(app.queues.connection), prefix: app.queues.prefix });
    app.decorate("launchQueue", queue);
    app.addHook("onClose", async () => queue.close());
  },
  { name: "launch-queue", dependencies: ["services"] },
);
