import type { PrismaClient } from "@tokenmill/db";

/**
 * Which launcher watches a run: the one whose last heartbeat is on the row. Every renewal is a
 * compare-and-set on the heartbeat this launcher wrote last, so when another launcher adopts the run
 * (its heartbeat had gone stale: the watcher was killed, or stalled past the adoption threshold),
 * the old watcher's next renewal fails and it stops watching instead of racing the new one.
 */
export class Lease {
  constructor(
    private readonly prisma: PrismaClient,
    readonly runId: string,
    private at: Date,
  ) {}

  /** Renews the heartbeat; false when another launcher has taken the run over. */
  async beat(): Promise<boolean> {
    const now = new Date();
    const n = await this.prisma.trainingRun.updateMany({ where: { id: this.runId, heartbeatAt: this.at }, data: { heartbeatAt: now } });
    if (n.count) this.at = now;
    return n.count > 0;
  }

  /** Runs `work` while renewing every `everyMs` (a submit or cancel can take a minute on a busy scheduler). */
  async during<T>(work: Promise<T>, everyMs: number): Promise<T> {
    const timer = setInterval(() => void this.beat().catch(() => undefined), everyMs);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }
}

/** Takes over a starting/running run whose heartbeat is older than `staleBefore` (or missing); null when it is watched or ended. */
export async function claimRun(prisma: PrismaClient, runId: string, staleBefore: Date): Promise<Lease | null> {
  const now = new Date();
  const n = await prisma.trainingRun.updateMany({
    where: { id: runId, status: { in: ["starting", "running"] }, OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: staleBefore } }] },
    data: { heartbeatAt: now },
  });
  return n.count ? new Lease(prisma, runId, now) : null;
}
