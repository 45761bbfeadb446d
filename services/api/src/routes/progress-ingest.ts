import type { PrismaClient } from "@tokenmill/db";

export interface Report {
  runId: string;
  /** sha256 of the run token the report came with; checked against the run's in the write itself. */
  tokenHash: string;
  experimentId: string;
  stage: string;
  step: number;
  consumed: Record<string, number>;
  /** `consumed` split over the plan's ledger cells (splitByPhase), computed by the caller. */
  shares: { phase: string; source: string; consumed: number }[];
  loss: number | null;
  lr: number | null;
  tokensPerS: number | null;
  mfu: number | null;
}
/**
 * accepted: stored by this request; duplicate: this (run, step) was already stored (a retry);
 * finished: the run has ended, nothing stored; unauthorized: the token is not (or no longer) the run's.
 */
export type Outcome = "accepted" | "duplicate" | "finished" | "unauthorized";

interface Pending {
  r: Report;
  done: (o: Outcome) => void;
  fail: (e: unknown) => void;
}

interface Row {
  run: string;
  hash: string | null;
  ended: boolean | null;
  step: number | null;
}

/**
 * Group commit for progress reports: requests arriving while a write is in flight are written
 * together by the next one, in ONE statement and so one transaction and one commit per batch: insert
 * the reports, move each run's figures to its newest stored report, move the ledger. A request is
 * answered only after its batch committed, so 200 still means stored; if the statement fails, every
 * request of the batch fails (and nothing of it is stored). The run's status and token are checked by
 * the same statement, so a cached identity in the route cannot let a report into an ended run or one
 * whose token was replaced. Measured in BENCHMARKS.md ("Launcher").
 */
export class ProgressIngest {
  private queue: Pending[] = [];
  private writing = false;

  constructor(
    private readonly prisma: PrismaClient,
    /** Reports per statement at most (default 1000). */
    private readonly maxBatch = 1000,
  ) {}

  submit(r: Report): Promise<Outcome> {
    return new Promise((done, fail) => {
      this.queue.push({ r, done, fail });
      if (!this.writing) {
        // Start after the current I/O callbacks, so requests that arrived together are written together.
        this.writing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const outcomes = await this.write(batch.map((p) => p.r));
        batch.forEach((p, i) => p.done(outcomes[i]!));
      } catch (e) {
        for (const p of batch) p.fail(e);
      }
    }
    this.writing = false;
  }

  private async write(batch: Report[]): Promise<Outcome[]> {
    // The same (run, step, token) twice in one batch is written once; the first one is the writer.
    const first = new Map<string, number>();
    const reports: object[] = [];
    const cells: object[] = [];
    // Run ids as PostgreSQL prints them (lower case), whatever case the URL used.
    const ids = batch.map((r) => r.runId.toLowerCase());
    for (const [i, r] of batch.entries()) {
      const key = `${ids[i]}:${r.step}:${r.tokenHash}`;
      if (first.has(key)) continue;
      first.set(key, i);
      reports.push({ i, run: ids[i], step: r.step, hash: r.tokenHash, consumed: r.consumed, loss: r.loss, lr: r.lr, tps: r.tokensPerS, mfu: r.mfu });
      // Every report's share of the ledger, applied only if the report is stored (see `led`).
      for (const x of r.shares) cells.push({ i, e: r.experimentId, s: r.stage, p: x.phase, src: x.source, n: x.consumed });
    }
    // r: each run's token and whether it ended, read once. ins: ON CONFLICT makes a stored (run, step)
    // a no-op. acc: the reports stored now. upd: a run's figures follow its newest report only (a late,
    // older one is stored but moves nothing). led: reports are cumulative, so each ledger cell takes
    // the largest share of any run's stored report (aggregated first: an UPDATE ... FROM with several
    // source rows per target row applies one of them, chosen arbitrarily) and never moves back.
    const rows = await this.prisma.$queryRaw<Row[]>`
      WITH v AS (
        SELECT * FROM json_to_recordset(${JSON.stringify(reports)}::json)
          AS v(i int, run uuid, step int, hash text, consumed jsonb, loss float8, lr float8, tps float8, mfu float8)
      ), r AS (
        SELECT t.id, t."tokenHash" AS hash, t.status IN ('succeeded', 'failed', 'cancelled') AS ended
        FROM training_runs t WHERE t.id IN (SELECT run FROM v)
      ), ins AS (
        INSERT INTO run_progress ("runId", step, "tokensConsumed", loss, lr, "tokensPerS", mfu)
        SELECT v.run, v.step, v.consumed, v.loss, v.lr, v.tps, v.mfu FROM v JOIN r ON r.id = v.run AND r.hash = v.hash AND NOT r.ended
        ON CONFLICT DO NOTHING RETURNING "runId", step
      ), acc AS (
        SELECT v.* FROM ins JOIN v ON v.run = ins."runId" AND v.step = ins.step JOIN r ON r.id = v.run AND r.hash = v.hash
      ), upd AS (
        UPDATE training_runs AS t SET "lastStep" = n.step, "tokensConsumed" = n.consumed, loss = n.loss, lr = n.lr, "tokensPerS" = n.tps, mfu = n.mfu,
          status = CASE WHEN t.status = 'starting' THEN 'running'::"TrainingRunStatus" ELSE t.status END, "updatedAt" = now()
        FROM (SELECT DISTINCT ON (run) * FROM acc ORDER BY run, step DESC) AS n
        WHERE t.id = n.run AND t."lastStep" < n.step
      ), led AS (
        UPDATE token_ledger AS l SET consumed = m.n, "updatedAt" = now()
        FROM (SELECT c.e, c.s, c.p, c.src, max(c.n) AS n
              FROM json_to_recordset(${JSON.stringify(cells)}::json) AS c(i int, e uuid, s text, p text, src text, n bigint)
              JOIN acc ON acc.i = c.i GROUP BY 1, 2, 3, 4) AS m
        WHERE l."experimentId" = m.e AND l.stage = m.s AND l.phase = m.p AND l.source = m.src AND l.consumed < m.n
      )
      SELECT id::text AS run, hash, ended, NULL::int AS step FROM r
      UNION ALL SELECT "runId"::text, NULL, NULL, step FROM ins`;

    const runs = new Map<string, { hash: string | null; ended: boolean }>();
    const stored = new Set<string>();
    for (const x of rows) {
      if (x.step === null) runs.set(x.run, { hash: x.hash, ended: x.ended === true });
      else stored.add(`${x.run}:${x.step}`);
    }
    return batch.map((r, i) => {
      const run = runs.get(ids[i]!);
      if (!run || run.hash !== r.tokenHash) return "unauthorized";
      if (run.ended) return "finished";
      const key = `${ids[i]}:${r.step}`;
      return stored.has(key) && first.get(`${key}:${r.tokenHash}`) === i ? "accepted" : "duplicate";
    });
  }
}
