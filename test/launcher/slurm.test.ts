import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Worker } from "bullmq";
import { SlurmBackend } from "@tokenmill/launcher";
import { waitFor } from "@tokenmill/testkit";
import { startStack, type Stack } from "../support/stack.js";
import { BASE_ENV, ended, experiment, PYTHON, ROOT, startLauncher, TINY, waitRun } from "./support.js";
import { jobState, startSlurm } from "./slurm-support.js";

/**
 * The Slurm backend against a real single-node Slurm on loopback (infra/slurm/start.sh installs
 * Debian's slurm-wlm + munge and starts munged, slurmctld and slurmd). CI runs as root with apt, so
 * the cluster starts there; elsewhere these tests skip and say why.
 */
const exec = promisify(execFile);
const slurmError = await startSlurm("the Slurm tests");

let stack: Stack;
let worker: Worker;
let runsDir: string;
let exp: string;
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
/** Launches a run of an experiment (default: the file's shared one). */
const launch = async (body: Record<string, unknown>, experimentId = exp) => {
  const res = await stack.app.inject({ method: "POST", url: `/experiments/${experimentId}/runs`, headers: auth(), payload: { backend: "slurm", ...body } });
  expect(res.statusCode, res.body).toBe(202);
  return res.json();
};

describe.skipIf(slurmError !== "")("training runs on a real single-node Slurm", () => {
  beforeAll(async () => {
    stack = await startStack();
    const url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
    runsDir = await mkdtemp(join(tmpdir(), "tokenmill-slurm-runs-"));
    exp = await experiment(stack, "slurm");
    worker = await startLauncher(stack, url, runsDir, { slurm: new SlurmBackend({ python: PYTHON, cwd: ROOT, cancelWaitS: 30, baseEnv: BASE_ENV }) });
  });
  afterAll(async () => {
    await worker?.close(true);
    await stack?.close();
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it("runs to success through sbatch/srun; progress reaches the ledger", async () => {
    const run = await waitRun(stack, (await launch({ overrides: TINY })).id, ended);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.external_id).toMatch(/^\d+$/);
    expect(await jobState(run.external_id)).toBe("COMPLETED");
    const script = readFileSync(join(run.work_dir, "sbatch-1.sh"), "utf8");
    expect(script).toContain("#SBATCH --requeue");
    expect(script).toContain("srun --kill-on-bad-exit=1");
    expect(script).not.toContain("tm_"); // the run token travels in sbatch's exported environment
    expect(readFileSync(run.log_path, "utf8")).toContain(`tokenmill: slurm job ${run.external_id}`);
    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${exp}/ledger`, headers: auth() })).json();
    for (const row of ledger) expect(row.consumed).toBe(row.planned);
  });

  it("a trainer that exits non-zero fails the run with Slurm's exit code and the trainer's message, after its retries", async () => {
    const run = await waitRun(stack, (await launch({ overrides: { ...TINY, model: { recipe: "no-such-model" } }, retry: { max_failures: 1, max_preemptions: 0 } })).id, ended);
    expect(run.status).toBe("failed");
    expect(run.attempt).toBe(2);
    expect(run.reason).toMatch(/slurm job \d+ failed with exit code 2/);
    expect(run.reason).toContain("no-such-model");
    expect(run.reason).toContain("failure budget 1 spent");
  });

  it("cancel scancels the job; nothing is left in the queue", async () => {
    const queued = await launch({ overrides: { ...TINY, model: { recipe: "tiny", max_seq_len: 64, dim: 256, n_layers: 4 }, micro_batch_size: 1 } });
    const running = await waitRun(stack, queued.id, (r) => r.status === "running" || ended(r));
    expect(running.status).toBe("running");
    expect((await stack.app.inject({ method: "POST", url: `/runs/${queued.id}/cancel`, headers: auth() })).json().status).toBe("cancelled");
    await waitFor(() => jobState(running.external_id), (s) => s === "CANCELLED", { what: `slurm job ${running.external_id} to be cancelled`, idleMs: 120_000, intervalMs: 250 });
    expect((await exec("squeue", ["-h", "-j", running.external_id])).stdout.trim()).toBe("");
  });

  it("a job Slurm requeues (preemption) resumes from its checkpoint and counts against the preemption budget", async () => {
    // A plan of 48 steps of 2 sequences, so the requeue lands mid-run however fast the machine.
    const longExp = await experiment(stack, "slurm-long", 6);
    const queued = await launch({ overrides: { ...TINY, micro_batch_size: 2, checkpoint_every_steps: 4 }, retry: { max_preemptions: 1, max_failures: 0 } }, longExp);
    const running = await waitRun(stack, queued.id, (r) => (r.status === "running" && r.progress.step >= 4) || ended(r));
    expect(running.status).toBe("running");
    const id = running.external_id;
    await exec("scontrol", ["requeue", id]);
    // Slurm holds a requeued batch job (BeginTime) for a while; release it at once.
    await waitFor(() => jobState(id), (s) => s === "PENDING", { what: `requeued job ${id} to be pending`, idleMs: 120_000 });
    await exec("scontrol", ["update", `JobId=${id}`, "StartTime=now"]);
    const run = await waitRun(stack, queued.id, ended);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(run.preemptions).toBe(1);
    expect(run.external_id).toBe(id);
    expect(run.progress.step).toBe(48);
    expect(run.events.some((e: any) => e.reason?.startsWith(`slurm requeued job ${id} (restart 1`))).toBe(true);
    expect(readFileSync(run.log_path, "utf8")).toMatch(/"event": "resume"/);
  });

  it("two ranks started by srun: Slurm's SIGTERM reaches both, they checkpoint at one step and exit 0, the next attempt resumes there", async () => {
    // A plan long enough (80 steps) that the signal, sent once progress is reported, lands mid-run.
    const ranksExp = await experiment(stack, "slurm-ranks", 10);
    const launched = await launch(
      {
        resources: { nodes: 1, gpus_per_node: 0, procs_per_node: 2, cpus_per_node: 2 },
        retry: { max_preemptions: 1, max_failures: 0 },
        overrides: { ...TINY, micro_batch_size: 1, checkpoint_every_steps: 100_000, progress_every_steps: 2 },
      },
      ranksExp,
    );
    const running = await waitRun(stack, launched.id, (r) => (r.status === "running" && r.progress.step >= 2) || ended(r));
    expect(running.status, JSON.stringify(running)).toBe("running");
    const job = running.external_id as string;
    // What Slurm does at --signal's lead time or on preemption with a grace period: SIGTERM to every task of the job's steps.
    await exec("scancel", ["--signal=TERM", job]);
    const run = await waitRun(stack, running.id, ended);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect([run.preemptions, run.failures, run.attempt]).toEqual([1, 0, 2]);
    expect(await jobState(job)).toBe("COMPLETED"); // every rank exited 0 after the checkpoint

    const script = readFileSync(join(run.work_dir, "sbatch-1.sh"), "utf8");
    expect(script).toContain("#SBATCH --ntasks-per-node=2\n");
    expect(script).toContain("#SBATCH --cpus-per-task=1\n");
    expect(script).toContain("export RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS LOCAL_RANK=$SLURM_LOCALID");
    expect(script).not.toContain("torch.distributed.run");

    const events = readFileSync(join(run.work_dir, "train.log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const starts = events.filter((e) => e.event === "start");
    expect(starts.map((e) => e.world_size)).toEqual([2, 2]);
    const preempted = events.filter((e) => e.event === "preempted");
    expect(preempted.length).toBe(1);
    expect(preempted[0].signal).toBe(15);
    expect(preempted[0].step).toBeLessThan(starts[0].total_steps);
    // The second attempt resumed from the step both ranks checkpointed at.
    expect(starts[1].start_step).toBe(preempted[0].step);
    expect(run.events.some((e: any) => e.reason?.includes(`after the trainer checkpointed at step ${preempted[0].step} on SIGTERM`))).toBe(true);
    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${ranksExp}/ledger`, headers: auth() })).json();
    expect(ledger.length).toBe(4);
    for (const row of ledger) expect([row.phase, row.source, row.consumed]).toEqual([row.phase, row.source, row.planned]);
  });

  it("a job sbatch rejects fails the run at once with sbatch's message", async () => {
    const run = await waitRun(stack, (await launch({ overrides: TINY, resources: { nodes: 1, gpus_per_node: 0, memory_gb: 100_000 } })).id, ended);
    expect(run.status).toBe("failed");
    expect(run.reason).toMatch(/^dispatch to slurm failed: sbatch rejected the job: .*node configuration is not available/i);
  });

  it("a job Slurm accepts but can never schedule is cancelled and the run fails, not left pending", async () => {
    const run = await waitRun(stack, (await launch({ overrides: TINY, resources: { nodes: 3, gpus_per_node: 0 } })).id, ended);
    expect(run.status).toBe("failed");
    expect(run.reason).toContain("can never start as asked (pending reason PartitionConfig");
    expect((await exec("squeue", ["-h", "-j", run.external_id])).stdout.trim()).toBe("");
  });
});
