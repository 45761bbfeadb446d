import type { PrismaClient } from "@tokenmill/db";

/** A run the watchdog failed as lost, with what is needed to stop its job. */
export interface LostRun {
  id: string;
  backend: string;
  externalId: string | null;
}

/**
 * Fails runs that no launcher is watching any more: starting or running with a heartbeat older than
 * `lostAfterMs` (no launcher with their backend adopted them in that time). Returns the ids it marked;
 * `onLost` gets the rows, to stop their jobs.
 */
export async function markLostRuns(prisma: PrismaClient, lostAfterMs: number, onLost?: (runs: LostRun[]) => Promise<void>): Promise<string[]> {
  const cutoff = new Date(Date.now() - lostAfterMs);
  const reason = `lost: no launcher heartbeat for ${Math.round(lostAfterMs / 1000)} s (no launcher with its backend is running)`;
  const rows = await prisma.$queryRaw<LostRun[]>`UPDATE training_runs SET status = 'failed', reason = ${reason}, "finishedAt" = now(), "updatedAt" = now()
    WHERE status IN ('starting', 'running') AND ("heartbeatAt" IS NULL OR "heartbeatAt" < ${cutoff}) RETURNING id, backend, "externalId"`;
  if (rows.length) await prisma.runEvent.createMany({ data: rows.map((r) => ({ runId: r.id, status: "failed" as const, reason })) });
  if (rows.length && onLost) await onLost(rows);
  return rows.map((r) => r.id);
}

/**
 * Fails queued runs that nothing will ever launch: queued for longer than `afterMs` while their
 * launch job is missing, failed or completed (`launchJobState` says which; BullMQ's "unknown" is a
 * job that is gone). Returns the ids it marked.
 */
export async function markStrandedRuns(prisma: PrismaClient, afterMs: number, launchJobState: (runId: string) => Promise<string>): Promise<string[]> {
  const queued = await prisma.trainingRun.findMany({ where: { status: "queued", updatedAt: { lt: new Date(Date.now() - afterMs) } }, select: { id: true } });
  const marked: string[] = [];
  for (const { id } of queued) {
    const state = await launchJobState(id);
    if (!["unknown", "failed", "completed"].includes(state)) continue;
    const reason = `stranded: queued while its launch job is ${state === "unknown" ? "gone" : state} (the launcher could not start it)`;
    const n = await prisma.trainingRun.updateMany({ where: { id, status: "queued" }, data: { status: "failed", reason, finishedAt: new Date() } });
    if (n.count) {
      await prisma.runEvent.create({ data: { runId: id, status: "failed", reason } });
      marked.push(id);
    }
  }
  return marked;
}

/** Starting/running runs of these backends whose heartbeat is older than `staleMs`: their launcher is gone. */
export async function orphanedRuns(prisma: PrismaClient, staleMs: number, backends: string[]): Promise<string[]> {
  const cutoff = new Date(Date.now() - staleMs);
  const rows = await prisma.trainingRun.findMany({
    where: { status: { in: ["starting", "running"] }, backend: { in: backends }, OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: cutoff } }] },
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

export interface WatchdogOptions {
  /** Runs of these backends with a stale heartbeat are adopted (handed to `adopt`, which claims them first). */
  backends: string[];
  adoptAfterMs: number;
  lostAfterMs: number;
  /** Claims a run (resolving once claimed or refused) and watches it in the background. */
  adopt: (runId: string) => Promise<unknown>;
  /** Runs this process watches already. */
  watching: ReadonlySet<string>;
  onLost: (runs: LostRun[]) => Promise<void>;
  /** The launch job's BullMQ state for a run (getJobState), for queued runs nothing will launch. */
  launchJobState?: (runId: string) => Promise<string>;
  onError?: (err: unknown) => void;
  intervalMs?: number;
}

/**
 * Every interval (and once at start): adopts runs whose launcher stopped heart-beating, fails those
 * no launcher adopted within lostAfterMs (stopping their jobs), and fails queued runs whose launch
 * job is gone. stop() clears it.
 */
export function startWatchdog(prisma: PrismaClient, o: WatchdogOptions) {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      for (const id of await orphanedRuns(prisma, o.adoptAfterMs, o.backends)) if (!o.watching.has(id)) await o.adopt(id);
      await markLostRuns(prisma, o.lostAfterMs, o.onLost);
      if (o.launchJobState) await markStrandedRuns(prisma, o.lostAfterMs, o.launchJobState);
    } catch (err) {
      o.onError?.(err); // the database blinked; next tick
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(tick, o.intervalMs ?? Math.max(1000, Math.min(o.adoptAfterMs, o.lostAfterMs) / 4));
  return { stop: () => clearInterval(timer) };
}
