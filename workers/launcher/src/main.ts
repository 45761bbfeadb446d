import { pino } from "pino";
import { createPrisma } from "@tokenmill/db";
import { asBullConnection, redisConnection } from "@tokenmill/queues";
import { loadLauncherConfig } from "./config.js";
import { createLaunchWorker } from "./processor.js";
import { LocalBackend } from "./backends/local.js";
import { SlurmBackend } from "./backends/slurm.js";
import { KubernetesBackend } from "./backends/kubernetes.js";
import type { Backend } from "./backends/types.js";
import { startWatchdog } from "./watchdog.js";

/** Process entry of the launcher: env → clients → BullMQ worker + watchdog; graceful stop on signals. */
const config = loadLauncherConfig(process.env);
const logger = pino({ level: config.logLevel, name: "launcher" }).child({ worker: config.workerId });
const prisma = createPrisma(config.databaseUrl);
const trainerEnv: Record<string, string> = {};
if (config.s3.endpoint) trainerEnv.AWS_ENDPOINT_URL = config.s3.endpoint;
if (config.s3.accessKeyId) trainerEnv.AWS_ACCESS_KEY_ID = config.s3.accessKeyId;
if (config.s3.secretAccessKey) trainerEnv.AWS_SECRET_ACCESS_KEY = config.s3.secretAccessKey;
const backends: Record<string, Backend> = {
  local: new LocalBackend({ python: config.python, cancelGraceMs: config.cancelGraceMs }),
  slurm: new SlurmBackend({ python: config.python, cwd: process.cwd(), partition: config.slurmPartition, account: config.slurmAccount }),
};
if (config.k8s) backends.kubernetes = new KubernetesBackend(config.k8s);
const worker = createLaunchWorker(
  {
    prisma,
    logger,
    backends,
    apiUrl: config.apiUrl,
    runsDir: config.runsDir,
    pollMs: config.pollMs,
    trainerEnv,
  },
  { connection: asBullConnection(redisConnection(config.redisUrl)), prefix: config.queuePrefix, concurrency: config.concurrency },
);
await worker.waitUntilReady();
const watchdog = startWatchdog(prisma, config.lostAfterMs, (ids) => logger.warn({ ids }, "marked lost runs as failed"));
logger.info({ runsDir: config.runsDir, apiUrl: config.apiUrl, backends: Object.keys(backends) }, "launcher worker ready");

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "stopping");
    watchdog.stop();
    await worker.close(true);
    await prisma.$disconnect();
    process.exit(0);
  });
}
