import type { Logger } from "pino";
import type { PrismaClient } from "@tokenmill/db";
import type { Backend } from "./backends/types.js";

export interface LauncherDeps {
  prisma: PrismaClient;
  logger: Logger;
  /** Backends by name (local | slurm | kubernetes); a run naming a missing one fails with a reason. */
  backends: Record<string, Backend>;
  apiUrl: string;
  runsDir: string;
  pollMs: number;
  /** How long a backend may fail to answer polls (errors retried with backoff) before its job is cancelled and the run failed (default 5 min). */
  pollFailMs?: number;
  /** A run whose heartbeat is older than this is taken over by a launcher that has its backend (default 20 s). */
  adoptAfterMs?: number;
  /** S3 endpoint and credentials, given only to trainers of runs that read s3:// dataset versions. */
  trainerEnv?: Record<string, string>;
}

export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
export type RunStatus = "starting" | "running" | "succeeded" | "failed" | "cancelled";
export type Transition = (runId: string, status: RunStatus, reason: string | null, data?: Record<string, unknown>) => Promise<boolean>;

/** Moves a run to `status` unless it already ended (a cancel wins over whatever the launcher saw), with an event. */
export function createTransition(prisma: PrismaClient): Transition {
  return async (runId, status, reason, data = {}) => {
    const ended = TERMINAL.has(status);
    const n = await prisma.trainingRun.updateMany({
      where: { id: runId, status: { notIn: ["succeeded", "failed", "cancelled"] } },
      data: { status, reason, ...(ended ? { finishedAt: new Date() } : {}), ...data },
    });
    if (n.count) await prisma.runEvent.create({ data: { runId, status, reason } });
    return n.count > 0;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));
