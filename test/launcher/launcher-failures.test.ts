import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, type Worker } from "bullmq";
import { LAUNCH_QUEUE } from "@tokenmill/domain";
import { asBullConnection, redisConnection } from "@tokenmill/queues";
import { LocalBackend, markLostRuns, markStrandedRuns, trainerEnvironment, type Backend, type Dispatch, type JobState } from "@tokenmill/launcher";
import { waitFor } from "@tokenmill/testkit";
import { startStack, type Stack } from "../support/stack.js";
import { BASE_ENV, ended, experiment, PYTHON, ROOT, startLauncher, TINY, waitRun } from "./support.js";

/**
 * The real local backend, with polls that fail as a scheduler's client does when its controller is
 * down: `failing()` says whether this poll throws. Submits and cancels go to the real backend.
 */
class FlakyPolls implements Backend {
  readonly name = "local";
  polls = 0;
  readonly inner = new LocalBackend({ python: PYTHON, cancelGraceMs: 5_000, cwd: ROOT, baseEnv: BASE_ENV });
  constructor(private readonly failing: (n: number) => boolean) {}
  submit(d: Dispatch) {
    return this.inner.submit(d);
  }
  async poll(handle: string): Promise<JobState> {
    if (this.failing(++this.polls)) throw new Error("scontrol: error: Unable to contact slurm controller (connect failure)");
    return this.inner.poll(handle);
  }
  cancel(handle: string) {
    return this.inner.cancel(handle);
  }
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let stack: Stack;
let url: string;
let runsDir: string;
let exp: string;
let worker: Worker | undefined;
/** One launcher at a time (each test's own backends): every launcher takes jobs off the same queue. */
async function useLauncher(dir: string, backends: Record<string, Backend>, extra = {}) {
  await worker?.close(true);
  worker = await startLauncher(stack, url, dir, backends, extra);
}
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
const launch = async (backend: string) => {
  const res = await stack.app.inject({ method: "POST", url: `/experiments/${exp}/runs`, headers: auth(), payload: { backend, overrides: TINY } });
  expect(res.statusCode, res.body).toBe(202);
  return res.json().id as string;
};

beforeAll(async () => {
  stack = await startStack();
  url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
  runsDir = await mkdtemp(join(tmpdir(), "tokenmill-failures-"));
  exp = await experiment(stack, "failures");
});
afterAll(async () => {
  await worker?.close(true);
  await stack?.close();
  if (runsDir) await rm(runsDir, { recursive: true, force: true });
});

describe("no run left hanging", () => {
  it("the trainer's environment is an allowlist of the launcher's plus the run's own variables", () => {
    const env = trainerEnvironment({ PATH: "/bin", HOME: "/root", LC_ALL: "C", PYTHONPATH: "x", CUDA_VISIBLE_DEVICES: "0", NCCL_DEBUG: "WARN", HF_HUB_OFFLINE: "1", DATABASE_URL: "postgresql://u:p@h/db", REDIS_URL: "redis://:p@h", HF_TOKEN: "hf_x", S3_SECRET_ACCESS_KEY: "s", AWS_SECRET_ACCESS_KEY: "s", TOKENMILL_ADMIN: "tm_x", API_TOKEN: "tm_y" });
    expect(env).toEqual({ PATH: "/bin", HOME: "/root", LC_ALL: "C", PYTHONPATH: "x", CUDA_VISIBLE_DEVICES: "0", NCCL_DEBUG: "WARN", HF_HUB_OFFLINE: "1" });
  });

  it("an error of the launcher before the run starts fails it with the cause instead of leaving it queued", async () => {
    // A runs folder that cannot be created (below a file).
    await useLauncher("/dev/null/runs", { local: new LocalBackend({ python: PYTHON, cancelGraceMs: 1_000, baseEnv: BASE_ENV }) });
    const run = await waitRun(stack, await launch("local"), ended);
    expect(run.status).toBe("failed");
    expect(run.reason).toMatch(/^launcher error: .*ENOTDIR/);
  });

  it("polls that fail for a while are retried with backoff; the run goes on to succeed", async () => {
    const flaky = new FlakyPolls((n) => n >= 3 && n <= 6);
    await useLauncher(runsDir, { local: flaky });
    const run = await waitRun(stack, await launch("local"), ended);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expect(flaky.polls).toBeGreaterThan(6);
  });

  it("polls that keep failing: the job is cancelled (the trainer is gone) and the run fails with the cause", async () => {
    let failFrom = Infinity;
    const broken = new FlakyPolls((n) => n >= failFrom);
    await useLauncher(runsDir, { local: broken }, { pollFailMs: 3_000 });
    const id = await launch("local");
    const running = await waitRun(stack, id, (r) => r.status === "running" || ended(r));
    expect(running.status, JSON.stringify(running)).toBe("running");
    failFrom = broken.polls + 1;
    const run = await waitRun(stack, id, ended);
    expect(run.status).toBe("failed");
    expect(run.reason).toMatch(/^lost track of local job \d+ for \d+ s \(scontrol: error: Unable to contact slurm controller/);
    expect(run.reason).toContain("the job was cancelled");
    await waitFor(() => alive(Number(running.external_id)), (a) => !a, { what: "the trainer of the failed run to be stopped", deadlineMs: 60_000 });
  });

  it("the watchdog fails queued runs whose launch job is gone, and leaves those still waiting", async () => {
    const queue = new Queue(LAUNCH_QUEUE, { connection: asBullConnection(redisConnection(stack.redisUrl)), prefix: stack.queuePrefix });
    await worker?.close(true);
    worker = undefined;
    try {
      // No launcher is running: the launch jobs wait. Remove one of them.
      const [gone, waiting] = [await launch("local"), await launch("local")];
      await queue.remove(`launch-${gone}`);
      await stack.prisma.$executeRaw`UPDATE training_runs SET "updatedAt" = now() - interval '10 minutes' WHERE id IN (${gone}, ${waiting})`;
      const marked = await markStrandedRuns(stack.prisma, 60_000, (runId) => queue.getJobState(`launch-${runId}`));
      expect(marked).toEqual([gone]);
      const view = (await stack.app.inject({ method: "GET", url: `/runs/${gone}`, headers: auth() })).json();
      expect([view.status, view.reason]).toEqual(["failed", "stranded: queued while its launch job is gone (the launcher could not start it)"]);
      expect((await stack.prisma.trainingRun.findUniqueOrThrow({ where: { id: waiting } })).status).toBe("queued");
    } finally {
      await queue.close();
    }
  });

  it("the watchdog hands lost runs over to be stopped (their backend and job)", async () => {
    const mixtureId = (await stack.prisma.experimentMixture.findFirstOrThrow({ where: { experimentId: exp } })).mixtureId;
    const run = await stack.prisma.trainingRun.create({
      data: { experimentId: exp, stage: "pretrain", mixtureId, planFingerprint: "x", backend: "slurm", externalId: "4242", resources: {}, retry: {}, overrides: {}, status: "running", heartbeatAt: new Date(Date.now() - 120_000) },
    });
    const handed: { id: string; backend: string; externalId: string | null }[] = [];
    expect(await markLostRuns(stack.prisma, 60_000, async (runs) => void handed.push(...runs))).toEqual([run.id]);
    expect(handed).toEqual([{ id: run.id, backend: "slurm", externalId: "4242" }]);
  });
});
