import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { loadCuratorConfig, type CuratorConfig } from "./config.js";
import { superviseWorkers } from "./supervisor.js";
import { runWorkerProcess } from "./worker-process.js";

/**
 * Process entry of the curator: env → config; with PROCESSES=1 this process is the worker, above
 * that it supervises PROCESSES forked copies of this module (PROCESSES=1, WORKER_ID `<id>-w<k>`)
 * and forwards SIGINT/SIGTERM to them.
 */
let config: CuratorConfig;
try {
  config = loadCuratorConfig(process.env);
} catch (err) {
  pino({ name: "curator" }).fatal(`invalid configuration: ${(err as Error).message}`);
  process.exit(2);
}
const logger = pino({ level: config.logLevel, name: "curator" }).child({ worker: config.workerId });

if (config.processes === 1) {
  await runWorkerProcess(config, logger);
} else {
  logger.info({ processes: config.processes, concurrency: config.concurrency }, "starting curator worker processes");
  const supervisor = superviseWorkers({
    processes: config.processes,
    modulePath: fileURLToPath(import.meta.url),
    env: (k) => ({ ...process.env, PROCESSES: "1", WORKER_ID: `${config.workerId}-w${k}` }),
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => supervisor.stop(signal));
  const code = await supervisor.done;
  logger.info({ code }, "curator supervisor exiting");
  process.exit(code);
}
