export { createCurationProcessor, createCurationWorker, type WorkerOptions } from "./processor.js";
export { loadCuratorConfig, type CuratorConfig } from "./config.js";
export type { CuratorDeps } from "./deps.js";
export { checkStalledRuns, noteProgress, startWatchdog, watchdogInterval, type WatchdogOptions } from "./watchdog.js";
