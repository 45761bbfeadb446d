import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiToken } from "@tokenmill/domain";
import { ProgressIngest, type Report } from "../../services/api/src/routes/progress-ingest.js";
import { mixturePlan, splitByPhase } from "../../services/api/src/routes/training-run-view.js";
import { startStack, type Stack } from "../support/stack.js";
import { experiment } from "../launcher/support.js";

/**
 * Group commit of progress reports (POST /runs/{id}/progress): many concurrent reports are written
 * in a few statements, each stored exactly once, each request answered after its batch committed.
 */
let stack: Stack;
let exp: string;
let mixtureId: string;

async function newRun(token: string, status: "starting" | "running" = "running") {
  const row = await stack.prisma.trainingRun.create({
    data: { experimentId: exp, stage: "pretrain", mixtureId, planFingerprint: "x", backend: "local", resources: {}, retry: {}, overrides: {}, status, tokenHash: hashApiToken(token) },
  });
  return row.id;
}
const consumed = (step: number) => ({ web: step * 7, code: step * 3 });
const post = (run: string, token: string, step: number, body: Record<string, unknown> = {}) =>
  stack.app.inject({
    method: "POST",
    url: `/runs/${run}/progress`,
    headers: { authorization: `Bearer ${token}`, "idempotency-key": `${run}:${step}` },
    payload: { step, tokens_consumed: consumed(step), loss: 3 - step / 1000, lr: 1e-3, tokens_per_s: 1000, mfu: null, ...body },
  });
async function report(run: string, token: string, step: number, c = consumed(step)): Promise<Report> {
  return {
    runId: run, tokenHash: hashApiToken(token), experimentId: exp, stage: "pretrain", step, consumed: c, loss: 1, lr: null, tokensPerS: null, mfu: null,
    shares: splitByPhase(await mixturePlan(stack.prisma, mixtureId), c),
  };
}
const ledger = async () => Object.fromEntries((await stack.prisma.ledgerEntry.findMany({ where: { experimentId: exp, stage: "pretrain" } })).map((l) => [`${l.phase}/${l.source}`, Number(l.consumed)]));

beforeAll(async () => {
  stack = await startStack();
  exp = await experiment(stack, "ingest");
  mixtureId = (await stack.prisma.experimentMixture.findFirstOrThrow({ where: { experimentId: exp } })).mixtureId;
  // The ledger rows, as the first launch of the stage creates them (runs here are made directly).
  const plan = await mixturePlan(stack.prisma, mixtureId);
  await stack.prisma.ledgerEntry.createMany({ data: plan.phases.flatMap((ph) => ph.components.map((c, k) => ({ experimentId: exp, stage: "pretrain", phase: ph.name, source: c.name, position: k, planned: BigInt(c.tokens) }))) });
});
afterAll(async () => {
  await stack?.close();
});

describe("progress ingestion, group commit", () => {
  it("stores 200 concurrent reports of 4 runs exactly once and moves each run to its newest step", async () => {
    const runs = await Promise.all(["a", "b", "c", "d"].map((t) => newRun(`tm_gc_${t}`, "starting")));
    const res = await Promise.all(Array.from({ length: 200 }, (_, i) => post(runs[i % 4]!, `tm_gc_${"abcd"[i % 4]}`, Math.floor(i / 4) + 1)));
    expect(res.map((r) => r.statusCode)).toEqual(Array(200).fill(200));
    expect(res.every((r) => r.json().accepted === true)).toBe(true);
    for (const run of runs) {
      const rows = await stack.prisma.runProgress.findMany({ where: { runId: run }, orderBy: { step: "asc" } });
      expect(rows.map((r) => r.step)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const view = await stack.prisma.trainingRun.findUniqueOrThrow({ where: { id: run } });
      expect(view.status).toBe("running");
      expect(view.lastStep).toBe(50);
      expect(view.tokensConsumed).toEqual(consumed(50));
    }
  });

  it("collapses duplicates by Idempotency-Key: each (run, step) accepted once, every retry answered as a duplicate", async () => {
    const run = await newRun("tm_dup");
    // Every step three times, all in flight together (one batch holds a step and its retries).
    const steps = Array.from({ length: 200 }, (_, i) => (i % 67) + 1);
    const res = await Promise.all(steps.map((s) => post(run, "tm_dup", s)));
    expect(res.map((r) => r.statusCode)).toEqual(Array(200).fill(200));
    const accepted = res.filter((r) => r.json().accepted).map((r) => r.json().step);
    expect(accepted.sort((a, b) => a - b)).toEqual(Array.from({ length: 67 }, (_, i) => i + 1));
    expect(await stack.prisma.runProgress.count({ where: { runId: run } })).toBe(67);
    // A retry after the commit is a duplicate too.
    expect((await post(run, "tm_dup", 5)).json()).toEqual({ accepted: false, step: 5 });
  });

  it("fails every request of a failing batch with the error, and stores none of it", async () => {
    const run = await newRun("tm_fail");
    const ingest = new ProgressIngest(stack.prisma);
    // step 2^31 does not fit the column: the statement fails (the route's schema refuses such a step).
    const batch = await Promise.all([1, 2, 2 ** 31, 3].map((s) => report(run, "tm_fail", s)));
    const settled = await Promise.allSettled(batch.map((r) => ingest.submit(r)));
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected", "rejected", "rejected"]);
    expect(String((settled[0] as PromiseRejectedResult).reason)).toMatch(/out of range/);
    expect(await stack.prisma.runProgress.count({ where: { runId: run } })).toBe(0);
    expect((await stack.prisma.trainingRun.findUniqueOrThrow({ where: { id: run } })).lastStep).toBe(0);
    // The next batch is not affected.
    expect(await ingest.submit(await report(run, "tm_fail", 4))).toBe("accepted");
  });

  it("answers a failing batch with 5xx over HTTP, and refuses a poison report alone with 400", async () => {
    const run = await newRun("tm_http");
    const res = await Promise.all([post(run, "tm_http", 1), post(run, "tm_http", 2 ** 31), post(run, "tm_http", 2, { tokens_consumed: { "we\u0000b": 1 } }), post(run, "tm_http", 3)]);
    expect(res.map((r) => r.statusCode)).toEqual([200, 400, 400, 200]);
    // A batch that cannot be written (here: its table is gone for a moment) fails every request in
    // it with 500, and none is stored.
    await stack.prisma.$executeRawUnsafe("ALTER TABLE run_progress RENAME TO run_progress_away");
    const failed = await Promise.all([4, 5, 6].map((s) => post(run, "tm_http", s))).finally(() => stack.prisma.$executeRawUnsafe("ALTER TABLE run_progress_away RENAME TO run_progress"));
    expect(failed.map((r) => [r.statusCode, r.json().error])).toEqual([[500, "internal_error"], [500, "internal_error"], [500, "internal_error"]]);
    expect((await stack.prisma.runProgress.findMany({ where: { runId: run }, orderBy: { step: "asc" } })).map((r) => r.step)).toEqual([1, 3]);
  });

  it("moves each ledger cell to the largest share of the runs' reports in one batch", async () => {
    const [a, b] = [await newRun("tm_led_a"), await newRun("tm_led_b")];
    const before = await ledger();
    expect(Object.keys(before).length).toBe(4);
    const ingest = new ProgressIngest(stack.prisma);
    const small = { web: 5, code: 2 };
    const large = { web: (before["phase-1/web"] ?? 0) + 11, code: (before["phase-1/code"] ?? 0) + 4 };
    const outcomes = await Promise.all([report(a, "tm_led_a", 1, small), report(b, "tm_led_b", 1, large), report(a, "tm_led_a", 2, small)].map(async (r) => ingest.submit(await r)));
    expect(outcomes).toEqual(["accepted", "accepted", "accepted"]);
    const expected = splitByPhase(await mixturePlan(stack.prisma, mixtureId), large);
    const after = await ledger();
    for (const x of expected) expect(after[`${x.phase}/${x.source}`]).toBe(Math.max(x.consumed, before[`${x.phase}/${x.source}`] ?? 0));
  });

  it("takes a run id in upper case as the same run", async () => {
    const run = await newRun("tm_case");
    expect((await post(run.toUpperCase(), "tm_case", 1)).json()).toEqual({ accepted: true, step: 1 });
    expect((await post(run, "tm_case", 1)).json()).toEqual({ accepted: false, step: 1 });
  });

  it("checks the run's current token in the write: a replaced token is refused even after it was cached", async () => {
    const run = await newRun("tm_old");
    expect((await post(run, "tm_old", 1)).statusCode).toBe(200);
    await stack.prisma.trainingRun.update({ where: { id: run }, data: { tokenHash: hashApiToken("tm_new") } });
    expect((await post(run, "tm_old", 2)).statusCode).toBe(401);
    expect((await post(run, "tm_new", 2)).json()).toEqual({ accepted: true, step: 2 });
    expect((await post(run, "tm_old", 3)).statusCode).toBe(401);
  });
});
