import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@tokenmill/testkit";
import { startStack, type Stack } from "../support/stack.js";
import { ended, experiment, PYTHON, ROOT, TINY, waitRun } from "./support.js";

/**
 * The launcher as its own process (workers/launcher/src/main.ts), killed with SIGKILL while a local
 * trainer runs: the trainer must not outlive it.
 */
let stack: Stack;
let url: string;
let runsDir: string;
let exp: string;
let launcher: ChildProcess | undefined;

/** Processes of a process group that have not exited (zombies count as exited), from /proc. */
function liveInGroup(pgid: number): number[] {
  const live: number[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") live.push(Number(pid));
    } catch {
      /* exited while we read */
    }
  }
  return live;
}

beforeAll(async () => {
  stack = await startStack();
  url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
  runsDir = await mkdtemp(join(tmpdir(), "tokenmill-orphan-"));
  exp = await experiment(stack, "orphan");
});
afterAll(async () => {
  launcher?.kill("SIGKILL");
  await stack?.close();
  if (runsDir) await rm(runsDir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== "linux")("local backend when the launcher dies", () => {
  it("stops the trainer within seconds of a kill -9 of its launcher", async () => {
    launcher = spawn(process.execPath, ["--import", "tsx", "workers/launcher/src/main.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...stack.workerEnv, API_URL: url, RUNS_DIR: runsDir, TRAINER_PYTHON: PYTHON, POLL_MS: "200", CANCEL_GRACE_MS: "3000", LOG_LEVEL: "warn" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    // A model slow enough on a CPU to be mid-run when the launcher goes.
    const overrides = { ...TINY, model: { recipe: "tiny", max_seq_len: 64, dim: 256, n_layers: 4 }, micro_batch_size: 1 };
    const res = await stack.app.inject({ method: "POST", url: `/experiments/${exp}/runs`, headers: { authorization: `Bearer ${stack.admin}` }, payload: { backend: "local", overrides } });
    expect(res.statusCode, res.body).toBe(202);
    const running = await waitRun(stack, res.json().id, (r) => r.status === "running" || ended(r));
    expect(running.status, JSON.stringify(running)).toBe("running");
    const group = Number(running.external_id);
    // tokenmill_trainer.launch and the trainer under it.
    await waitFor(() => liveInGroup(group), (l) => l.length >= 2, { what: `launch and trainer processes in group ${group}`, idleMs: 120_000, intervalMs: 50 });

    launcher.kill("SIGKILL");
    // The launch process SIGTERMs the trainer when its stdin closes and SIGKILLs the group 3 s later
    // (CANCEL_GRACE_MS): a minute is ample on a loaded machine, and much less than a run lasts.
    await waitFor(() => liveInGroup(group), (l) => l.length === 0, { what: `processes of group ${group} to stop after the launcher's kill -9`, deadlineMs: 60_000, intervalMs: 50 });
  });
});
