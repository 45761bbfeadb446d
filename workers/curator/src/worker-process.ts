import type { Logger } from "pino";
import { createPrisma } from "@tokenmill/db";
import { asBullConnection, createQueues, redisConnection } from "@tokenmill/queues";
import { openStore } from "@tokenmill/storage";
import type { CuratorConfig } from "./config.js";
import { createCurationWorker } from "./processor.js";
import { startWatchdog, watchdogInterval } from "./watchdog.js";

/**
 * One worker process: clients → BullMQ worker with `concurrency` jobs; on SIGINT/SIGTERM (or when
 * the supervisor that forked it goes away) it finishes its active jobs, closes its clients and exits.
 */
export async function runWorkerProcess(config: CuratorConfig, logger: Logger): Promise<void> {
  const prisma = createPrisma(config.databaseUrl);
  const queues = createQueues({ redisUrl: config.redisUrl, prefix: config.queuePrefix });
  const store = openStore(config.storeUri, config.s3);
  const deps = { prisma, store, queues, logger, s3: config.s3, sourcePolicy: config.sourcePolicy, workerId: config.workerId };
  // Every process watches; a Redis lock lets one of them check per interval.
  const stopWatchdog = startWatchdog(deps, { stallTimeoutMs: config.runStallTimeoutMs, intervalMs: watchdogInterval(config.runStallTimeoutMs) });
  const worker = createCurationWorker(
    deps,
    {
      connection: asBullConnection(redisConnection(config.redisUrl)),
      prefix: config.queuePrefix,
      concurrency: config.concurrency,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
    },
  );

  let closing = false;
  const shutdown = async (reason: string) => {
    if (closing) return;
    closing = true;
    logger.info({ reason }, "draining: finishing active jobs");
    stopWatchdog();
    await worker.close();
    await queues.close();
    await prisma.$disconnect();
    process.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void shutdown(signal));
  // Forked by a supervisor: if it dies without forwarding a signal (SIGKILL), its IPC channel
  // closes; stop rather than run on unsupervised.
  if (process.connected) process.once("disconnect", () => void shutdown("supervisor gone"));

  await worker.waitUntilReady();
  logger.info({ store: config.storeUri, concurrency: config.concurrency }, "curator worker ready");
}
