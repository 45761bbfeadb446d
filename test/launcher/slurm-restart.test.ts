import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack, type Stack } from "../support/stack.js";
import { ended, experiment, PYTHON, ROOT, TINY, waitRun } from "./support.js";
import { jobState, startSlurm } from "./slurm-support.js";

/**
 * A Slurm job outlives its launcher: the launcher (workers/launcher/src/main.ts as its own process)
 * is SIGKILLed mid-run, the job keeps training, and the launcher started again re-attaches to the
 * same job and sees the run to its end — no new attempt, no preemption counted.
 */
const slurmError = await startSlurm("the Slurm restart test");

let stack: Stack;
let url: string;
let runsDir: string;
let launcher: ChildProcess | undefined;
const startLauncherProcess = () =>
  spawn(process.execPath, ["--import", "tsx", "workers/launcher/src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, ...stack.workerEnv, API_URL: url, RUNS_DIR: runsDir, TRAINER_PYTHON: PYTHON, POLL_MS: "500", ADOPT_AFTER_MS: "5000", LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });

describe.skipIf(slurmError !== "")("a Slurm run whose launcher is killed", () => {
  beforeAll(async () => {
    stack = await startStack();
    url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
    runsDir = await mkdtemp(join(tmpdir(), "tokenmill-slurm-restart-"));
    launcher = startLauncherProcess();
  });
  afterAll(async () => {
    launcher?.kill("SIGKILL");
    await stack?.close();
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it("keeps training; the restarted launcher re-attaches to the same job and the run succeeds with every planned token", async () => {
    const exp = await experiment(stack, "slurm-restart", 6);
    const res = await stack.app.inject({ method: "POST", url: `/experiments/${exp}/runs`, headers: { authorization: `Bearer ${stack.admin}` }, payload: { backend: "slurm", overrides: { ...TINY, micro_batch_size: 2, checkpoint_every_steps: 4 } } });
    expect(res.statusCode, res.body).toBe(202);
    const running = await waitRun(stack, res.json().id, (r) => (r.status === "running" && r.progress.step >= 4) || ended(r));
    expect(running.status, JSON.stringify(running)).toBe("running");
    const exited = new Promise((r) => launcher!.once("exit", r));
    launcher!.kill("SIGKILL");
    await exited;
    expect(await jobState(running.external_id)).toBe("RUNNING"); // the job does not depend on its launcher
    launcher = startLauncherProcess();
    const run = await waitRun(stack, running.id, ended);
    expect(run.status, `${JSON.stringify(run)}\n${readFileSync(run.log_path, "utf8").slice(-2000)}`).toBe("succeeded");
    expect([run.external_id, run.attempt, run.preemptions, run.failures]).toEqual([running.external_id, 1, 0, 0]);
    expect(run.progress.step).toBe(48);
    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${exp}/ledger`, headers: { authorization: `Bearer ${stack.admin}` } })).json();
    for (const row of ledger) expect(row.consumed).toBe(row.planned);
  });
});
