import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { experiment } from "../launcher/support.js";

/** GET /runs/{id}/progress (downsampled history) and GET /runs/latest, on real PostgreSQL. */
let stack: Stack;
let exp: string;
let mixtureId: string;
let read: string;
const auth = (t = stack.admin) => ({ authorization: `Bearer ${t}` });
const newRun = (data: Record<string, unknown> = {}) =>
  stack.prisma.trainingRun.create({ data: { experimentId: exp, stage: "pretrain", mixtureId, planFingerprint: "x", backend: "local", resources: {}, retry: {}, overrides: {}, status: "running", ...data } });
/** Reports 1..n: loss falls linearly, tokens grow by 100 (web) + 10 (code) per step. */
async function report(runId: string, n: number) {
  for (let i = 1; i <= n; i += 5000) {
    const rows = Array.from({ length: Math.min(5000, n - i + 1) }, (_, k) => {
      const step = i + k;
      return { runId, step, tokensConsumed: { web: step * 100, code: step * 10 }, loss: 10 - step / n, lr: 1e-3, tokensPerS: step % 2 ? 1000 : 3000, mfu: null };
    });
    await stack.prisma.runProgress.createMany({ data: rows });
  }
}

beforeAll(async () => {
  stack = await startStack();
  read = await stack.token(["read"]);
  exp = await experiment(stack, "history");
  mixtureId = (await stack.prisma.experimentMixture.findFirstOrThrow({ where: { experimentId: exp } })).mixtureId;
});
afterAll(async () => stack?.close());

describe("GET /runs/{id}/progress", () => {
  it("returns every report when there are fewer than max_points", async () => {
    const run = await newRun({ totalSteps: 10 });
    await report(run.id, 10);
    const res = await stack.app.inject({ method: "GET", url: `/runs/${run.id}/progress`, headers: auth(read) });
    expect(res.statusCode, res.body).toBe(200);
    const h = res.json();
    expect(h).toMatchObject({ run_id: run.id, total_steps: 10, tokens_planned: 64 * 32, reports: 10, bucket: 1 });
    expect(h.points.map((p: any) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(h.points[2]).toEqual({ step: 3, loss: 10 - 3 / 10, lr: 1e-3, tokens_per_s: 1000, mfu: null, tokens_consumed: 330, reports: 1 });
  });

  it("downsamples 10,000 reports to at most max_points buckets: means of rates, the last cumulative tokens", async () => {
    const run = await newRun();
    await report(run.id, 10_000);
    const t0 = performance.now();
    const res = await stack.app.inject({ method: "GET", url: `/runs/${run.id}/progress`, headers: auth() });
    const ms = performance.now() - t0;
    const h = res.json();
    expect(h.reports).toBe(10_000);
    expect(h.bucket).toBe(20);
    expect(h.points.length).toBe(500);
    expect(h.points[0]).toMatchObject({ step: 20, tokens_consumed: 20 * 110, tokens_per_s: 2000, reports: 20 });
    expect(h.points.at(-1)).toMatchObject({ step: 10_000, tokens_consumed: 10_000 * 110 });
    const steps = h.points.map((p: any) => p.step);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(res.body.length).toBeLessThan(80_000);
    expect(ms).toBeLessThan(5_000); // generous: shared machine

    const few = (await stack.app.inject({ method: "GET", url: `/runs/${run.id}/progress?max_points=7`, headers: auth() })).json();
    expect(few.points.length).toBeLessThanOrEqual(7);
    expect(few.points.at(-1).step).toBe(10_000);
    expect(few.points.reduce((a: number, p: any) => a + p.reports, 0)).toBe(10_000);
  });

  it("an empty history, an unknown run, bad max_points and no token", async () => {
    const run = await newRun({ status: "queued" });
    expect((await stack.app.inject({ method: "GET", url: `/runs/${run.id}/progress`, headers: auth() })).json()).toMatchObject({ reports: 0, points: [] });
    expect((await stack.app.inject({ method: "GET", url: `/runs/00000000-0000-4000-8000-000000000000/progress`, headers: auth() })).statusCode).toBe(404);
    expect((await stack.app.inject({ method: "GET", url: `/runs/${run.id}/progress?max_points=1`, headers: auth() })).statusCode).toBe(400);
    expect((await stack.app.inject({ method: "GET", url: `/runs/${run.id}/progress` })).statusCode).toBe(401);
  });
});

describe("GET /runs/latest", () => {
  it("gives each experiment's newest run with its progress and the run count", async () => {
    const newest = await newRun({ status: "running", lastStep: 4, totalSteps: 8, tokensPerS: 100, tokensConsumed: { web: 500, code: 500 } });
    const other = randomUUID(); // no such experiment: no runs
    const res = await stack.app.inject({ method: "GET", url: `/runs/latest?experiment=${exp}&experiment=${other}`, headers: auth(read) });
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json().items;
    expect(items.length).toBe(1);
    expect(items[0].experiment_id).toBe(exp);
    expect(items[0].runs).toBe(4);
    expect(items[0].run.id).toBe(newest.id);
    expect(items[0].run.progress.fraction).toBe(0.5);
    expect(items[0].run.progress.eta_s).toBeCloseTo((64 * 32 - 1000) / 100);
    const comma = (await stack.app.inject({ method: "GET", url: `/runs/latest?experiment=${other},${exp}`, headers: auth(read) })).json();
    expect(comma.items.map((i: any) => i.run.id)).toEqual([newest.id]);
    // by name too, as everywhere an experiment id is taken; an unknown name is a 404 naming the parameter
    const byName = (await stack.app.inject({ method: "GET", url: `/runs/latest?experiment=history`, headers: auth(read) })).json();
    expect(byName.items.map((i: any) => [i.experiment_id, i.run.id])).toEqual([[exp, newest.id]]);
    const nope = await stack.app.inject({ method: "GET", url: `/runs/latest?experiment=nope`, headers: auth() });
    expect(nope.statusCode).toBe(404);
    expect(nope.json().field).toBe("query.experiment");
  });
});
