import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Worker } from "bullmq";
import { hashApiToken } from "@tokenmill/domain";
import { LocalBackend, markLostRuns } from "@tokenmill/launcher";
import { waitFor } from "@tokenmill/testkit";
import { startStack, type Stack } from "../support/stack.js";
import { BASE_ENV, ended, experiment, ROOT, startLauncher, TINY, waitRun } from "./support.js";

let stack: Stack;
let worker: Worker;
let runsDir: string;
let exp: string;
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
/** Launches a run of an experiment (default: the file's shared one). */
const launch = async (body: Record<string, unknown>, experimentId = exp) => {
  const res = await stack.app.inject({ method: "POST", url: `/experiments/${experimentId}/runs`, headers: auth(), payload: body });
  expect(res.statusCode, res.body).toBe(202);
  return res.json();
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  stack = await startStack();
  const url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
  runsDir = await mkdtemp(join(tmpdir(), "tokenmill-runs-"));
  exp = await experiment(stack, "lifecycle");
  worker = await startLauncher(stack, url, runsDir, {
    local: new LocalBackend({ python: join(ROOT, ".venv", "bin", "python"), cancelGraceMs: 5_000, cwd: ROOT, baseEnv: BASE_ENV }),
    broken: new LocalBackend({ python: "/nonexistent/python", cancelGraceMs: 1_000 }),
  });
});
afterAll(async () => {
  await worker?.close(true);
  await stack?.close();
  if (runsDir) await rm(runsDir, { recursive: true, force: true });
});

describe("training runs on the local backend", () => {
  it("runs to success: progress arrives, the ledger's consumed tokens equal the plan per phase and source", async () => {
    const queued = await launch({ backend: "local", overrides: TINY });
    expect(queued.status).toBe("queued");
    const run = await waitRun(stack, queued.id, ended);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.exit_code).toBe(0);
    expect(run.progress.step).toBe(8);
    expect(run.progress.total_steps).toBe(8);
    expect(run.events.map((e: any) => e.status)).toEqual(["queued", "starting", "running", "succeeded"]);
    expect(await stack.prisma.runProgress.count({ where: { runId: run.id } })).toBe(4);
    const spec = JSON.parse(readFileSync(join(run.work_dir, "job.json"), "utf8"));
    expect(spec.run_id).toBe(run.id);
    expect(JSON.stringify(spec)).not.toContain("tm_"); // the token goes through the environment only
    expect(existsSync(run.log_path)).toBe(true);
    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${exp}/ledger`, headers: auth() })).json();
    expect(ledger.length).toBe(4);
    for (const row of ledger) expect([row.phase, row.source, row.consumed]).toEqual([row.phase, row.source, row.planned]);
    expect(ledger.reduce((a: number, r: any) => a + r.planned, 0)).toBe(64 * 32);
    // a finished run takes no more reports and cannot be cancelled
    const late = await stack.app.inject({ method: "POST", url: `/runs/${run.id}/cancel`, headers: auth() });
    expect(late.statusCode).toBe(409);
    expect(late.json().message).toContain("already ended: succeeded");
  });

  it("fails with the trainer's exit code and message; a failure budget of 1 retries once", async () => {
    const queued = await launch({ backend: "local", overrides: { ...TINY, model: { recipe: "no-such-model" } }, retry: { max_failures: 1, max_preemptions: 0 } });
    const run = await waitRun(stack, queued.id, ended);
    expect(run.status).toBe("failed");
    expect(run.exit_code).toBe(2);
    expect(run.failures).toBe(2);
    expect(run.attempt).toBe(2);
    expect(run.reason).toContain("trainer exited with code 2");
    expect(run.reason).toContain("no-such-model");
    expect(run.reason).toContain("failure budget 1 spent");
    expect(run.events.some((e: any) => e.status === "starting" && e.reason.startsWith("retrying after trainer exited with code 2"))).toBe(true);
  });

  it("cancels a running run: the trainer's process group is gone and the run says who cancelled it", async () => {
    const queued = await launch({ backend: "local", overrides: { ...TINY, model: { recipe: "tiny", max_seq_len: 64, dim: 256, n_layers: 4 }, micro_batch_size: 1 } });
    const running = await waitRun(stack, queued.id, (r) => r.status === "running" || ended(r));
    expect(running.status).toBe("running");
    const pid = Number(running.external_id);
    expect(alive(pid)).toBe(true);
    const res = await stack.app.inject({ method: "POST", url: `/runs/${queued.id}/cancel`, headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe("cancelled");
    expect(res.json().reason).toContain("cancelled by");
    // SIGTERM, then SIGKILL after the backend's 5 s grace: gone well within a minute even on a loaded machine.
    await waitFor(() => alive(pid), (a) => !a, { what: `trainer ${pid} to exit after the cancel`, deadlineMs: 60_000 });
    expect((await waitRun(stack, queued.id, ended)).status).toBe("cancelled");
  });

  it("retries after a preemption (the trainer killed from outside) and resumes to success", async () => {
    // A plan of 48 steps of 2 sequences, so the kill lands mid-run however fast the machine.
    const longExp = await experiment(stack, "lifecycle-long", 6);
    const launched = await launch({ backend: "local", overrides: { ...TINY, micro_batch_size: 2, checkpoint_every_steps: 4 }, retry: { max_preemptions: 1, max_failures: 0 } }, longExp);
    const running = await waitRun(stack, launched.id, (r) => (r.status === "running" && r.progress.step >= 4) || ended(r));
    expect(running.status).toBe("running");
    process.kill(-Number(running.external_id), "SIGKILL");
    const run = await waitRun(stack, running.id, ended);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.preemptions).toBe(1);
    expect(run.attempt).toBe(2);
    expect(run.progress.step).toBe(48);
  });

  it("two local ranks train data-parallel; when one is killed the other is stopped at once and the run resumes", async () => {
    // Its own experiment with a longer plan (48 steps of 2 sequences), so the kill lands mid-run.
    const ranksExp = await experiment(stack, "local-ranks", 6);
    const launched = await launch(
      { backend: "local", resources: { nodes: 1, gpus_per_node: 0, procs_per_node: 2 }, retry: { max_preemptions: 1, max_failures: 0 }, overrides: { ...TINY, micro_batch_size: 1, checkpoint_every_steps: 4 } },
      ranksExp,
    );
    // Step 6 is reported after the step-4 checkpoint was written by both ranks.
    const running = await waitRun(stack, launched.id, (r) => (r.status === "running" && r.progress.step >= 6) || ended(r));
    expect(running.status, JSON.stringify(running)).toBe("running");
    const ranks = execFileSync("pgrep", ["-P", running.external_id]).toString().trim().split("\n").map(Number);
    expect(ranks.length).toBe(2);
    process.kill(ranks[1]!, "SIGKILL");
    // tokenmill_trainer.launch kills the surviving rank (it would wait in its next all-reduce forever).
    await waitFor(() => alive(ranks[0]!), (a) => !a, { what: `rank 0 (${ranks[0]}) to be stopped after rank 1 died`, deadlineMs: 60_000 });

    const run = await waitRun(stack, running.id, ended);
    expect(run.status, `${JSON.stringify(run)}\n${readFileSync(run.log_path, "utf8").slice(-3000)}`).toBe("succeeded");
    expect([run.preemptions, run.failures, run.attempt]).toEqual([1, 0, 2]);
    expect(run.events.some((e: any) => e.reason?.startsWith("retrying after trainer killed by SIGKILL"))).toBe(true);
    const events = readFileSync(join(run.work_dir, "train.log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const starts = events.filter((e) => e.event === "start");
    expect(starts.map((e) => e.world_size)).toEqual([2, 2]);
    expect(starts[1].start_step).toBeGreaterThanOrEqual(4); // resumed from a checkpoint both ranks wrote
    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${ranksExp}/ledger`, headers: auth() })).json();
    expect(ledger.length).toBe(4);
    for (const row of ledger) expect([row.phase, row.source, row.consumed]).toEqual([row.phase, row.source, row.planned]);
  });

  it("refuses resources a backend cannot honour, naming the field", async () => {
    const bad = async (resources: Record<string, unknown>, backend = "local") => {
      const res = await stack.app.inject({ method: "POST", url: `/experiments/${exp}/runs`, headers: auth(), payload: { backend, resources, overrides: TINY } });
      return [res.statusCode, res.json().message];
    };
    expect(await bad({ nodes: 2, gpus_per_node: 0 })).toEqual([400, "body.resources.nodes: the local backend runs on the API's machine only: nodes must be 1, got 2"]);
    expect(await bad({ nodes: 1, gpus_per_node: 0, time_limit_s: 3600 })).toEqual([
      400,
      "body.resources.time_limit_s: the local backend has no time limit (slurm and kubernetes do); leave it out, or cap the run with overrides.max_steps",
    ]);
    expect(await bad({ nodes: 1, gpus_per_node: 8, procs_per_node: 2 }, "slurm")).toEqual([
      400,
      "body.resources.procs_per_node: with GPUs the trainer runs one process per GPU: procs_per_node must be 8 or absent, got 2",
    ]);
  });

  it("a backend that cannot start the trainer fails the run with the reason", async () => {
    const res = await stack.app.inject({ method: "POST", url: `/experiments/${exp}/runs`, headers: auth(), payload: { backend: "slurm", overrides: TINY } });
    const run = await waitRun(stack, res.json().id, ended);
    expect(run.status).toBe("failed");
    expect(run.reason).toContain("backend slurm is not configured");
    await stack.prisma.trainingRun.update({ where: { id: run.id }, data: { backend: "broken", status: "queued", reason: null } });
    await stack.app.launchQueue.add("launch-run", { runId: run.id }, { jobId: `relaunch-${run.id}` });
    const again = await waitRun(stack, run.id, (r) => ended(r) && r.reason?.includes("dispatch"));
    expect(again.reason).toContain("dispatch to local failed: cannot start /nonexistent/python");
  });

  it("the watchdog fails a run whose launcher stopped heart-beating", async () => {
    const run = await stack.prisma.trainingRun.create({
      data: { experimentId: exp, stage: "pretrain", mixtureId: (await stack.prisma.experimentMixture.findFirstOrThrow({ where: { experimentId: exp } })).mixtureId, planFingerprint: "x", backend: "local", resources: {}, retry: {}, overrides: {}, status: "running", heartbeatAt: new Date(Date.now() - 120_000) },
    });
    expect(await markLostRuns(stack.prisma, 60_000)).toContain(run.id);
    const view = (await stack.app.inject({ method: "GET", url: `/runs/${run.id}`, headers: auth() })).json();
    expect(view.status).toBe("failed");
    expect(view.reason).toContain("lost: no launcher heartbeat");
  });
});

describe("progress reports", () => {
  let runId: string;
  const token = "tm_run_token_for_tests";
  const report = (step: number, over: { token?: string; key?: string; run?: string } = {}) =>
    stack.app.inject({
      method: "POST",
      url: `/runs/${over.run ?? runId}/progress`,
      headers: { authorization: `Bearer ${over.token ?? token}`, "idempotency-key": over.key ?? `${over.run ?? runId}:${step}` },
      payload: { step, tokens_consumed: { web: step * 100, code: step * 10 }, loss: 5 - step / 10, lr: 1e-3, tokens_per_s: 1000, mfu: null },
    });

  beforeAll(async () => {
    const mixtureId = (await stack.prisma.experimentMixture.findFirstOrThrow({ where: { experimentId: exp } })).mixtureId;
    runId = (await stack.prisma.trainingRun.create({ data: { experimentId: exp, stage: "pretrain", mixtureId, planFingerprint: "x", backend: "local", resources: {}, retry: {}, overrides: {}, status: "starting", tokenHash: hashApiToken(token) } })).id;
  });

  it("is idempotent per step and moves the run to running", async () => {
    expect((await report(2)).json()).toEqual({ accepted: true, step: 2 });
    expect((await report(2)).json()).toEqual({ accepted: false, step: 2 });
    expect((await report(1)).json()).toEqual({ accepted: true, step: 1 }); // late, older: recorded, figures stay at step 2
    const view = (await stack.app.inject({ method: "GET", url: `/runs/${runId}`, headers: auth() })).json();
    expect(view.status).toBe("running");
    expect(view.progress.step).toBe(2);
    expect(view.progress.tokens_consumed).toEqual({ web: 200, code: 20 });
    expect(await stack.prisma.runProgress.count({ where: { runId } })).toBe(2);
  });

  it("accepts only the run's own token, and the run token opens nothing else", async () => {
    expect((await report(3, { token: "tm_wrong" })).statusCode).toBe(401);
    expect((await report(3, { token: stack.admin })).statusCode).toBe(401);
    const other = (await stack.prisma.trainingRun.findFirstOrThrow({ where: { id: { not: runId }, experimentId: exp } })).id;
    expect((await report(3, { run: other })).statusCode).toBe(401);
    expect((await report(3, { key: `${runId}:4` })).statusCode).toBe(400);
    for (const url of [`/runs/${runId}`, "/runs", `/experiments/${exp}/ledger`]) {
      expect((await stack.app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
    }
    expect((await stack.app.inject({ method: "POST", url: `/runs/${runId}/cancel`, headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
  });

  it("refuses reports for a finished run with 410 and says why", async () => {
    await stack.app.inject({ method: "POST", url: `/runs/${runId}/cancel`, headers: auth() });
    const res = await report(5);
    expect(res.statusCode).toBe(410);
    expect(res.json().message).toContain("already ended: cancelled");
  });

  it("streams the run and its ledger over SSE with a ticket", async () => {
    const ticket = (await stack.app.inject({ method: "POST", url: "/events/tickets", headers: auth() })).json().ticket;
    const res = await stack.app.inject({ method: "GET", url: `/events/runs/${runId}?ticket=${ticket}` });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("event: run");
    expect(res.body).toContain('"ledger"');
    expect(res.body).toContain("event: end");
    expect((await stack.app.inject({ method: "GET", url: `/events/runs/${runId}?ticket=nope` })).statusCode).toBe(401);
  });
});
