import { pino } from "pino";
import { createPrisma } from "@tokenmill/db";
import { asBullConnection, redisConnection } from "@tokenmill/queues";
import { loadLauncherConfig } from "./config.js";
import { Queue } from "bullmq";
import { LAUNCH_QUEUE } from "@tokenmill/domain";
import { createLaunchProcessor, createLaunchWorker } from "./processor.js";
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
  local: new LocalBackend({ python: config.python, cancelGraceMs: config.cancelGraceMs, baseEnv: config.trainerBaseEnv }),
  slurm: new SlurmBackend({ python: config.python, cwd: process.cwd(), partition: config.slurmPartition, account: config.slurmAccount, baseEnv: config.trainerBaseEnv }),
};
if (config.k8s) backends.kubernetes = new KubernetesBackend(config.k8s);
const deps = { prisma, logger, backends, apiUrl: config.apiUrl, runsDir: config.runsDir, pollMs: config.pollMs, pollFailMs: config.pollFailMs, adoptAfterMs: config.adoptAfterMs, trainerEnv };
const processor = createLaunchProcessor(deps);
const connection = asBullConnection(redisConnection(config.redisUrl));
const worker = createLaunchWorker(deps, { connection, prefix: config.queuePrefix, concurrency: config.concurrency }, processor);
await worker.waitUntilReady();
const launchQueue = new Queue(LAUNCH_QUEUE, { connection, prefix: config.queuePrefix });
// Runs a killed launcher was watching are adopted here (or by any other launcher with their backend).
const watchdog = startWatchdog(prisma, {
  backends: Object.keys(backends),
  adoptAfterMs: config.adoptAfterMs,
  lostAfterMs: config.lostAfterMs,
  adopt: processor.adopt,
  watching: processor.watching,
  launchJobState: (runId) => launchQueue.getJobState(`launch-${runId}`),
  onLost: async (runs) => {
    logger.warn({ ids: runs.map((r) => r.id) }, "marked lost runs as failed");
    // A Slurm or Kubernetes job outlives its launcher: stop it, nothing trains for a failed run.
    for (const r of runs) {
      const b = backends[r.backend];
      if (b?.survivesLauncher && r.externalId) await b.cancel(r.externalId).catch((err) => logger.error({ err, runId: r.id }, "cannot cancel the job of a lost run"));
    }
  },
  onError: (err) => logger.warn({ err }, "watchdog tick failed"),
});
logger.info({ runsDir: config.runsDir, apiUrl: config.apiUrl, backends: Object.keys(backends) }, "launcher worker ready");

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "stopping");
    watchdog.stop();
    await worker.close(true);
    await launchQueue.close();
    await prisma.$disconnect();
    process.exit(0);
  });
}
