import { coreConfigFromEnv, envInt, ValidationError, type CoreConfig, type Env } from "@tokenmill/domain";
import { availableParallelism, hostname } from "node:os";
import { sourcePolicyFromEnv, type SourcePolicy } from "@tokenmill/storage";

/** The curator worker's environment, parsed once. */
export interface CuratorConfig extends CoreConfig {
  /**
   * Worker processes (`PROCESSES`, default 1). Above 1 the entry process becomes a supervisor that
   * forks this many workers, each with `CONCURRENCY` jobs, so one deployment uses every core;
   * `auto` = `os.availableParallelism()`.
   */
  processes: number;
  /** Jobs processed at once by this process (default 1: a task already uses a full core). */
  concurrency: number;
  /** Shown in task rows and logs (default `<hostname>-<pid>`; a supervisor's workers add `-w<k>`). */
  workerId: string;
  /** How long a job lock lasts without renewal; a killed worker's task is retried after it (default 30 s). */
  lockDurationMs: number;
  /** How often stalled jobs (of dead workers) are looked for (default 15 s). */
  stalledIntervalMs: number;
  /**
   * Supervisor only: how long workers may take to finish their active jobs after SIGTERM/SIGINT
   * before they are killed (default 60 s; a killed worker's task is retried elsewhere once its lock expires).
   */
  shutdownTimeoutMs: number;
  /**
   * What a run may read (FILE_SOURCE_ROOTS, HTTP_SOURCE_ALLOW, S3_SOURCE_BUCKETS), checked again at
   * run time so a source registered before a setting changed is held to the current one.
   */
  sourcePolicy: SourcePolicy;
  /**
   * A queued or running curation run with no progress for this long is failed by the watchdog
   * (`RUN_STALL_TIMEOUT_S`, default 1800 s; watchdog.ts says what counts as progress).
   */
  runStallTimeoutMs: number;
}

export function loadCuratorConfig(env: Env, cwd = process.cwd()): CuratorConfig {
  return {
    ...coreConfigFromEnv(env, cwd),
    processes: envProcesses(env, "PROCESSES"),
    concurrency: Math.max(1, envInt(env, "CONCURRENCY", 1)),
    workerId: env.WORKER_ID || `${hostname()}-${process.pid}`,
    lockDurationMs: envInt(env, "LOCK_DURATION_MS", 30_000),
    stalledIntervalMs: envInt(env, "STALLED_INTERVAL_MS", 15_000),
    shutdownTimeoutMs: envInt(env, "SHUTDOWN_TIMEOUT_MS", 60_000),
    sourcePolicy: sourcePolicyFromEnv(env, cwd),
    runStallTimeoutMs: envSeconds(env, "RUN_STALL_TIMEOUT_S", 1800) * 1000,
  };
}

/** A process count: an integer >= 1, or `auto` for the cores this process may use. Default 1. */
function envProcesses(env: Env, name: string): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return 1;
  if (raw.toLowerCase() === "auto") return availableParallelism();
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new ValidationError(`must be an integer >= 1 or "auto", got "${env[name]}"`, name);
  }
  return n;
}

/** A positive number of seconds: 0 would fail every run at once, so it is refused. */
function envSeconds(env: Env, name: string, fallback: number): number {
  const n = envInt(env, name, fallback);
  if (n < 1) throw new ValidationError(`must be an integer >= 1, got "${env[name]}"`, name);
  return n;
}
