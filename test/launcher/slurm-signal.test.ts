import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Worker } from "bullmq";
import { SlurmBackend } from "@tokenmill/launcher";
import { startStack, type Stack } from "../support/stack.js";
import { BASE_ENV, ended, PYTHON, ROOT, sampleVersion, startLauncher, TINY, tinyRecipe, waitRun } from "./support.js";
import { startSlurm } from "./slurm-support.js";

/**
 * The time-limit path on a real single-node Slurm (infra/slurm/start.sh; skipped with the reason
 * where it cannot start): a job with `--time=1` and a 5 s signal lead gets SIGTERM from Slurm while
 * it trains, checkpoints and exits; the launcher dispatches the next attempt, which resumes from
 * that checkpoint, until the plan is trained. slurmctld sends the signal on its 30 s background
 * cycle, i.e. 25 to 55 s into the job, and enforces the limit on the same cycle, at least 30 s later.
 */
const exec = promisify(execFile);
const slurmError = await startSlurm("the Slurm signal test");

const LEAD_S = 5;
/** Seconds of training the run needs: longer than a job trains before its signal, and short enough to finish in a few jobs. */
const TRAIN_S = 55;

/**
 * Seconds per one-sequence step of the tiny model on one thread, measured on this machine as it is
 * loaded now (an idle CI core and a busy laptop differ by several times), so that the run trains
 * for about TRAIN_S seconds wherever it runs.
 */
async function stepSeconds(): Promise<number> {
  const script = [
    "import time, torch",
    "from tokenmill_trainer.config import model_config",
    "from tokenmill_trainer.model import Transformer",
    "m = Transformer(model_config('tiny', max_seq_len=64)); m.init_weights(0)",
    "opt = torch.optim.AdamW(m.parameters(), lr=1e-3)",
    "x = torch.randint(0, 128000, (1, 64))",
    "for i in range(8):",
    "    if i == 2: t = time.perf_counter()",
    "    m(x, x).backward(); opt.step(); opt.zero_grad(set_to_none=True)",
    "print((time.perf_counter() - t) / 6)",
  ].join("\n");
  const { stdout } = await exec(PYTHON, ["-c", script], { env: { ...process.env, OMP_NUM_THREADS: "1" }, cwd: ROOT, timeout: 120_000 });
  return Number(stdout.trim());
}

let stack: Stack;
let worker: Worker;
let runsDir: string;
let exp: string;
let seqsPerPhase: number;
const launched: string[] = [];
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
const events = (workDir: string) =>
  readFileSync(join(workDir, "train.log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { ts: number; event: string; step?: number; start_step?: number; signal?: number; path?: string; checkpoint?: string });

describe.skipIf(slurmError !== "")("a Slurm job reaching its time limit", () => {
  beforeAll(async () => {
    let stepS: number;
    [stack, stepS] = await Promise.all([startStack(), stepSeconds()]);
    seqsPerPhase = Math.min(300, Math.max(20, Math.round(TRAIN_S / stepS / 2)));
    const url = await stack.app.listen({ port: 0, host: "127.0.0.1" });
    runsDir = await mkdtemp(join(tmpdir(), "tokenmill-slurm-signal-"));
    const recipe = tinyRecipe("slurm-signal");
    for (const p of recipe.stages[0].phases) p.tokens = 64 * seqsPerPhase;
    const web = await sampleVersion(stack, "slurm-signal-web", "c4_redpajama_cc_samples.jsonl.gz");
    const code = await sampleVersion(stack, "slurm-signal-code", "thealgorithms_python_first200.jsonl.gz");
    const res = await stack.app.inject({ method: "POST", url: "/experiments", headers: auth(), payload: { name: "slurm-signal", recipe, datasets: { web, code } } });
    expect(res.statusCode, res.body).toBe(201);
    exp = res.json().id;
    worker = await startLauncher(stack, url, runsDir, { slurm: new SlurmBackend({ python: PYTHON, cwd: ROOT, cancelWaitS: 30, signalBeforeLimitS: LEAD_S, baseEnv: BASE_ENV }) });
  });
  afterAll(async () => {
    await worker?.close(true);
    // Whatever attempt was left in the queue when the test stopped early.
    for (const id of launched) await exec("scancel", [`--name=tokenmill-${id.slice(0, 8)}`]).catch(() => undefined);
    await stack?.close();
    if (runsDir) await rm(runsDir, { recursive: true, force: true });
  });

  it("the trainer checkpoints on Slurm's SIGTERM before the limit and the next attempt resumes there; the run succeeds with every planned token", async () => {
    const res = await stack.app.inject({
      method: "POST",
      url: `/experiments/${exp}/runs`,
      headers: auth(),
      payload: {
        backend: "slurm",
        resources: { nodes: 1, gpus_per_node: 0, cpus_per_node: 1, time_limit_s: 60 },
        retry: { max_preemptions: 10, max_failures: 0 },
        // No periodic checkpoint before the end: every resume below starts from a checkpoint the signal caused.
        overrides: { ...TINY, micro_batch_size: 1, checkpoint_every_steps: 100_000, progress_every_steps: 20 },
      },
    });
    expect(res.statusCode, res.body).toBe(202);
    const id = res.json().id as string;
    launched.push(id);
    const run = await waitRun(stack, id, ended, 420_000);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");

    const script = readFileSync(join(run.work_dir, "sbatch-1.sh"), "utf8");
    expect(script).toContain("#SBATCH --time=1\n");
    expect(script).toContain(`#SBATCH --signal=TERM@${LEAD_S}\n`);
    expect(script).toContain("export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}");
    expect(script).toContain(`; trap "" TERM; exec "$@"' trainer`);

    // Every attempt but the last stopped on SIGTERM (15) after writing a checkpoint at that step; the
    // next one resumed from exactly that checkpoint.
    const ev = events(run.work_dir);
    const stops = ev.filter((e) => e.event === "preempted");
    const resumes = ev.filter((e) => e.event === "resume");
    expect(stops.length).toBeGreaterThanOrEqual(1);
    expect(resumes.length).toBe(stops.length);
    expect(run.attempt).toBe(stops.length + 1);
    expect(run.preemptions).toBe(stops.length);
    const starts = ev.filter((e) => e.event === "start").map((e) => e.start_step);
    expect(starts[0]).toBe(0);
    for (const [i, stop] of stops.entries()) {
      expect(stop.signal).toBe(15);
      expect(stop.step).toBeGreaterThan(starts[i]!);
      const ckpt = ev.filter((e) => e.event === "checkpoint" && e.step === stop.step);
      expect(ckpt).toHaveLength(1);
      expect(resumes[i]!.step).toBe(stop.step);
      expect(resumes[i]!.checkpoint).toBe(ckpt[0]!.path);
      expect(starts[i + 1]).toBe(stop.step);
    }
    expect(run.progress.step).toBe(run.progress.total_steps);
    expect(ev.at(-1)).toMatchObject({ event: "done", step: run.progress.total_steps });

    // Each attempt was its own Slurm job with a one-minute limit. A signal that came while the
    // trainer trained was acted on before the limit; one that came during its startup (where it is
    // ignored) left the checkpoint to the limit's own SIGTERM, and the job ended TIMEOUT. A slow
    // interpreter exit after the checkpoint can also run into the limit, so the proof of "before
    // the limit" is the checkpoint's time against the job's limit, not the job's final state.
    const jobs = [...readFileSync(run.log_path, "utf8").matchAll(/tokenmill: slurm job (\d+) /g)].map((m) => m[1]!);
    expect(jobs).toHaveLength(run.attempt);
    const shown = await Promise.all(jobs.map(async (job) => (await exec("scontrol", ["show", "job", "-o", job])).stdout));
    for (const f of shown) {
      expect(f).toContain("TimeLimit=00:01:00 ");
      expect(f).toMatch(/JobState=(COMPLETED|TIMEOUT) /);
    }
    // StartTime is in the machine's local time, as Date.parse reads a time without an offset.
    const began = shown.map((f) => Date.parse(/StartTime=(\S+)/.exec(f)![1]!) / 1000);
    const beforeLimit = stops.filter((stop) => {
      const job = began.filter((t) => t <= stop.ts).length - 1;
      return job >= 0 && stop.ts < began[job]! + 60;
    });
    expect(beforeLimit.length, `stops at ${stops.map((s) => s.ts).join(", ")}; jobs started at ${began.join(", ")}`).toBeGreaterThanOrEqual(1);

    const ledger = (await stack.app.inject({ method: "GET", url: `/experiments/${exp}/ledger`, headers: auth() })).json();
    expect(ledger.length).toBeGreaterThan(0);
    for (const row of ledger) expect(row.consumed).toBe(row.planned);
  });
});
