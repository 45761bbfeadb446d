import type { Job } from "bullmq";
import type { CuratorDeps } from "./deps.js";

/**
 * Liveness of curation runs. Every job of a run notes progress in Redis (when it starts, every
 * few seconds while it runs, when it ends); the watchdog fails a run that has made none for longer than
 * the bound, so a run whose jobs were all lost (a flow that can no longer finish, a job dropped
 * from Redis) ends as `failed` with the reason instead of staying `running` until someone cancels it.
 * Progress lives in Redis rather than in the run's row: it is written often, by every kind of job.
 */

const ACTIVE = ["queued", "planning", "running", "finalizing"] as const;
/** Progress marks outlive any sane bound, then expire with the run's queue data. */
const MARK_TTL_S = 7 * 24 * 3600;
/** How often a running job refreshes its run's mark. */
const MARK_EVERY_MS = 10_000;

const runKey = (deps: CuratorDeps, runId: string) => `${deps.queues.prefix}:curation-progress:${runId}`;
const anyKey = (deps: CuratorDeps) => `${deps.queues.prefix}:curation-progress`;
const lockKey = (deps: CuratorDeps) => `${deps.queues.prefix}:curation-watchdog`;

/** Notes that a run made progress now (also the queue-wide mark: some run is moving). */
export async function noteProgress(deps: CuratorDeps, runId: string, now = Date.now()): Promise<void> {
  await deps.queues.connection.multi().set(runKey(deps, runId), String(now), "EX", MARK_TTL_S).set(anyKey(deps), String(now), "EX", MARK_TTL_S).exec();
}

/**
 * Marks progress for a job's run while the job runs: at its start and every MARK_EVERY_MS until the
 * returned stop function is called. A job being worked on counts as progress, as it does for its
 * BullMQ lock; the watchdog is for runs that no job is working on any more.
 */
export function trackJobProgress(deps: CuratorDeps, job: Job): () => void {
  const runId = (job.data as { runId?: unknown } | undefined)?.runId;
  if (typeof runId !== "string") return () => undefined;
  const mark = () => void noteProgress(deps, runId).catch(() => undefined);
  mark();
  const timer = setInterval(mark, MARK_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    mark();
  };
}

export interface WatchdogOptions {
  /** A run with no progress for longer than this fails (RUN_STALL_TIMEOUT_S). */
  stallTimeoutMs: number;
  /** How often a check runs across all curator processes (one process checks per interval). */
  intervalMs: number;
}

/** The check interval for a bound: a quarter of it, between 1 s and 1 min. */
export function watchdogInterval(stallTimeoutMs: number): number {
  return Math.max(1_000, Math.min(60_000, Math.floor(stallTimeoutMs / 4)));
}

/**
 * One check: fails every active run whose last progress (its Redis mark, its start, its tasks'
 * starts and ends) is older than the bound. A run that may merely be waiting its turn is spared:
 * while other jobs wait in the queue and some run made progress within the bound, the queue is busy, not stuck.
 */
export async function checkStalledRuns(deps: CuratorDeps, o: WatchdogOptions, now = Date.now()): Promise<string[]> {
  const runs = await deps.prisma.curationRun.findMany({
    where: { status: { in: [...ACTIVE] } },
    select: { id: true, createdAt: true, startedAt: true },
  });
  if (runs.length === 0) return [];
  const tasks = await deps.prisma.curationTask.groupBy({ by: ["runId"], where: { runId: { in: runs.map((r) => r.id) } }, _max: { startedAt: true, finishedAt: true } });
  const taskTimes = new Map(tasks.map((t) => [t.runId, Math.max(t._max.startedAt?.getTime() ?? 0, t._max.finishedAt?.getTime() ?? 0)]));
  const redis = deps.queues.connection;
  const marks = await redis.mget(...runs.map((r) => runKey(deps, r.id)));
  const anyMark = Number((await redis.get(anyKey(deps))) ?? 0);
  const waiting = await deps.queues.curation.getJobCounts("wait", "prioritized", "delayed");
  const queueBusy = Object.values(waiting).some((n) => n > 0) && now - anyMark <= o.stallTimeoutMs;
  const failed: string[] = [];
  for (const [i, run] of runs.entries()) {
    const last = Math.max(Number(marks[i] ?? 0), run.createdAt.getTime(), run.startedAt?.getTime() ?? 0, taskTimes.get(run.id) ?? 0);
    const idle = now - last;
    if (idle <= o.stallTimeoutMs || queueBusy) continue;
    const error = `no progress for ${Math.round(idle / 1000)} s (RUN_STALL_TIMEOUT_S=${Math.round(o.stallTimeoutMs / 1000)}): the run's jobs stopped without finishing it`;
    const moved = await deps.prisma.curationRun.updateMany({ where: { id: run.id, status: { in: [...ACTIVE] } }, data: { status: "failed", error, finishedAt: new Date(now) } });
    if (moved.count === 1) {
      deps.logger.warn({ runId: run.id, idleMs: idle }, "run failed by the watchdog: no progress");
      failed.push(run.id);
    }
  }
  return failed;
}

/**
 * Runs checkStalledRuns every interval in this process; across processes a Redis lock held for
 * one interval lets one of them check per interval. Returns a stop function.
 */
export function startWatchdog(deps: CuratorDeps, o: WatchdogOptions): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const got = await deps.queues.connection.set(lockKey(deps), deps.workerId, "PX", o.intervalMs, "NX");
      if (got === "OK") await checkStalledRuns(deps, o);
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, "watchdog check failed");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), o.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
