import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { waitFor } from "@tokenmill/testkit";
import { startStack, type Stack } from "../support/stack.js";
import { ended, experiment, PYTHON, ROOT, TINY, waitRun } from "./support.js";

/**
 * The launcher as its own process (workers/launcher/src/main.ts), SIGKILLed twice while a local
 * trainer runs and started again each time: the new launcher adopts the run, restarts the trainer
 * from the checkpoint it wrote when its launcher vanished, and the run ends as a fault-free one does.
 */
const exec = promisify(execFile);
let stack: Stack;
let url: string;
let runsDir: string;
let launcher: ChildProcess | undefined;
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
// Secrets in the launcher's own environment that must never reach a trainer.
const CANARIES = { TOKENMILL_ADMIN_TOKEN: "tm_canary_admin_token", HF_TOKEN: "hf_canary_token", S3_SECRET_ACCESS_KEY: "canary-s3-secret", API_TOKEN: "tm_canary_api" };
// 48 steps of 2 sequences, a checkpoint every 4: long enough for two kills mid-run on any machine.
const OVERRIDES = { ...TINY, micro_batch_size: 2, checkpoint_every_steps: 4 };

function startLauncherProcess(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "workers/launcher/src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...stack.workerEnv, ...CANARIES, API_URL: url, RUNS_DIR: runsDir, TRAINER_PYTHON: PYTHON, POLL_MS: "200", CANCEL_GRACE_MS: "60000", ADOPT_AFTER_MS: "5000", LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  return child;
}
async function kill(child: ChildProcess) {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}
/** Live processes of a process group, from /proc. */
function group(pgid: number): number[] {
  const out: number[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") out.push(Number(pid));
    } catch {
      /* exited while we read */
    }
  }
  return out;
}
const environ = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
const launch = async (exp: string) => {
  const res = await stack.app.inject({ method: "POST", url: `/experiments/${exp}/runs`, headers: auth(), payload: { backend: "local", overrides: OVERRIDES } });
  expect(res.statusCode, res.body).toBe(202);
  return res.json().id as string;
};
const trainLog = (workDir: string) =>
  readFileSync(join(workDir, "train.log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { event: string; step?: number; loss?: number; start_step?: number });
/** True when two checkpoints hold the same tensors, bit for bit. */
async function sameWeights(a: string, b: string): Promise<string> {
  const script = "import sys, torch\na, b = (torch.load(p, map_location='cpu') for p in sys.argv[1:3])\nprint('same' if a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) else 'different')";
  return (await exec(PYTHON, ["-c", script, a, b], { cwd: ROOT })).stdout.trim();
}

beforeAll(async () => {
  stack = await startStack();
  url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
  runsDir = await mkdtemp(join(tmpdir(), "tokenmill-restart-"));
  launcher = startLauncherProcess();
});
afterAll(async () => {
  if (launcher && launcher.exitCode === null) await kill(launcher);
  await stack?.close();
  if (runsDir) await rm(runsDir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== "linux")("a launcher killed mid-run and started again", () => {
  let reference: any;

  it("fault-free reference run; the trainer's environment holds none of the launcher's secrets", async () => {
    const id = await launch(await experiment(stack, "restart-reference", 6));
    const running = await waitRun(stack, id, (r) => r.status === "running" || ended(r));
    expect(running.status, JSON.stringify(running)).toBe("running");
    const pids = await waitFor(() => group(Number(running.external_id)), (g) => g.length >= 2, { what: "the launch process and its trainer" });
    for (const pid of pids) {
      const env = environ(pid);
      expect(env.TOKENMILL_RUN_TOKEN).toMatch(/^tm_/); // the run's own token is there: the right process
      for (const name of ["DATABASE_URL", "REDIS_URL", "QUEUE_PREFIX", ...Object.keys(CANARIES)]) expect(env[name], name).toBeUndefined();
      const all = Object.values(env).join("\n");
      for (const secret of [stack.workerEnv.DATABASE_URL!, stack.workerEnv.REDIS_URL!, stack.admin, ...Object.values(CANARIES)]) expect(all).not.toContain(secret);
    }
    reference = await waitRun(stack, id, ended);
    expect(reference.status, JSON.stringify(reference)).toBe("succeeded");
    expect(reference.progress.step).toBe(48);
  });

  it("survives two SIGKILLs: the run succeeds with consumed = planned, the same final weights and loss as the fault-free run", async () => {
    expect(reference?.status).toBe("succeeded");
    const exp = await experiment(stack, "restart-killed", 6);
    const id = await launch(exp);
    const kills: number[] = [];
    for (const atStep of [8, 28]) {
      // Past a checkpoint, in the attempt the previous restart started.
      const r = await waitRun(stack, id, (v) => (v.status === "running" && v.attempt === kills.length + 1 && v.progress.step >= atStep) || ended(v));
      expect(r.status, JSON.stringify(r)).toBe("running");
      await kill(launcher!);
      kills.push(r.progress.step);
      launcher = startLauncherProcess();
    }
    const run = await waitRun(stack, id, ended);
    expect(run.status, `${JSON.stringify(run)}\n${readFileSync(run.log_path, "utf8").slice(-3000)}`).toBe("succeeded");
    expect([run.attempt, run.preemptions, run.failures]).toEqual([3, 2, 0]);
    expect(run.progress.step).toBe(48);
    const retries = run.events.filter((e: any) => e.reason?.startsWith("retrying after trainer"));
    expect(retries.length).toBe(2);
    for (const e of retries) expect(e.reason).toMatch(/stopped with the launcher that started it after the trainer checkpointed at step \d+ on SIGTERM \(its launcher was lost\)/);

    const events = trainLog(run.work_dir);
    const starts = events.filter((e) => e.event === "start");
    expect(starts.length).toBe(3);
    expect(starts[1]!.start_step).toBeGreaterThanOrEqual(kills[0]!); // resumed where the trainer stopped, not from scratch
    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${exp}/ledger`, headers: auth() })).json();
    expect(ledger.length).toBe(4);
    for (const row of ledger) expect([row.phase, row.source, row.consumed]).toEqual([row.phase, row.source, row.planned]);

    const lastLoss = (workDir: string) => trainLog(workDir).filter((e) => e.event === "step" && e.step === 48).at(-1)?.loss;
    expect(lastLoss(run.work_dir)).toBeDefined();
    expect(lastLoss(run.work_dir)).toBe(lastLoss(reference.work_dir));
    const final = (workDir: string) => join(workDir, "checkpoints", "step-00000048", "model.pt");
    expect(await sameWeights(final(reference.work_dir), final(run.work_dir))).toBe("same");
  });
});
