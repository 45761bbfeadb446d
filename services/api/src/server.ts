import { createPrisma } from "@tokenmill/db";
import { createQueues } from "@tokenmill/queues";
import { openStore } from "@tokenmill/storage";
import { loadApiConfig } from "./config.js";
import { buildApp } from "./app.js";
import { createApiLogger } from "./plugins/logging.js";

/** Process entry: env → clients → app → listen; closes everything on SIGINT/SIGTERM. */
const config = loadApiConfig(process.env);
const logger = createApiLogger(config.logLevel);
const prisma = createPrisma(config.databaseUrl);
const queues = createQueues({ redisUrl: config.redisUrl, prefix: config.queuePrefix });
const store = openStore(config.storeUri, config.s3);
const app = await buildApp({ prisma, queues, store, config }, { loggerInstance: logger });

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "shutting down");
    await app.close();
    await queues.close();
    await prisma.$disconnect();
    process.exit(0);
  });
}

await app.listen({ host: config.host, port: config.port });
logger.info({ url: `http://${config.host}:${config.port}`, store: config.storeUri }, "tokenmill API listening; docs at /docs");
