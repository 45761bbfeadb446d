import type { PrismaClient } from "@tokenmill/db";

/**
 * Fails runs that no launcher is watching any more: starting or running with a heartbeat older than
 * `lostAfterMs` (the launcher died, its machine vanished). Returns the ids it marked.
 */
export async function markLostRuns(prisma: PrismaClient, lostAfterMs: number): Promise<string[]> {
  const cutoff = new Date(Date.now() - lostAfterMs);
  const reason = `lost: no launcher heartbeat for ${Math.round(lostAfterMs / 1000)} s (the launcher stopped or its machine was lost)`;
  const rows = await prisma.$queryRaw<{ id: string }[]>`UPDATE training_runs SET status = 'failed', reason = ${reason}, "finishedAt" = now(), "updatedAt" = now()
    WHERE status IN ('starting', 'running') AND ("heartbeatAt" IS NULL OR "heartbeatAt" < ${cutoff}) RETURNING id`;
  if (rows.length) await prisma.runEvent.createMany({ data: rows.map((r) => ({ runId: r.id, status: "failed" as const, reason })) });
  return rows.map((r) => r.id);
}

/** Runs markLostRuns every interval; stop() clears it. */
export function startWatchdog(prisma: PrismaClient, lostAfterMs: number, onLost: (ids: string[]) => void, intervalMs = Math.max(1000, lostAfterMs / 4)) {
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const ids = await markLostRuns(prisma, lostAfterMs);
      if (ids.length) onLost(ids);
    } catch {
      /* the database blinked; next tick */
    } finally {
      busy = false;
    }
  }, intervalMs);
  return { stop: () => clearInterval(timer) };
}
