import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { procsPerNode, type Backend, type Dispatch, type JobState } from "./types.js";

const exec = promisify(execFile);

export interface SlurmBackendOptions {
  /** Python with tokenmill_trainer on every node (a shared filesystem path). */
  python: string;
  /** Working directory of the job (default: the launcher's); must be visible on every node. */
  cwd?: string;
  partition?: string;
  account?: string;
  /**
   * Seconds before the time limit at which every task of the job step (the trainer itself, not the
   * batch shell) gets SIGTERM, checkpoints and exits 0; the launcher then dispatches the next attempt,
   * which resumes from that checkpoint (default 120). Slurm checks this on its 30 s background cycle,
   * so the signal may come up to 30 s earlier; the lead is capped at half the limit so that a short
   * job still trains before it is told to stop.
   */
  signalBeforeLimitS?: number;
  /** Seconds to wait for a cancelled job to leave the queue (default 60). */
  cancelWaitS?: number;
  /** The environment of sbatch, hence of the job, besides the run's own (LauncherConfig.trainerBaseEnv: allowlisted; default none). */
  baseEnv?: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pending reasons that never clear by waiting: the job asks for more than the partition or account allows. */
const NEVER_STARTS = new Set(["PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints", "AccountNotAllowed", "QOSMaxNodePerJobLimit", "QOSMaxGRESPerJob", "QOSMaxWallDurationPerJobLimit", "InvalidAccount", "InvalidQOS"]);

/**
 * Renders the batch script: Slurm starts every rank itself, one task per process (per GPU, or
 * procs_per_node CPU processes), each with RANK, WORLD_SIZE and LOCAL_RANK from SLURM_PROCID,
 * SLURM_NTASKS and SLURM_LOCALID and the rendezvous on the first node (MASTER_ADDR/MASTER_PORT,
 * torch's env:// init). No torchrun in between: Slurm's checkpoint signal and a preemption's SIGTERM
 * reach every trainer straight from slurmstepd, the ranks agree on the step to checkpoint at and all
 * exit 0 — under torchrun the agent took the signal as its own death, killed the ranks 30 s later
 * whatever they were writing and exited non-zero, a failure. `srun --kill-on-bad-exit=1` fails the
 * whole group as soon as one rank dies; `--requeue` lets Slurm requeue the job on preemption or node
 * failure (the trainer resumes from its checkpoint); `--signal=TERM@N` asks the trainer to
 * checkpoint N seconds before the time limit.
 */
export function sbatchScript(d: Dispatch, o: SlurmBackendOptions): string {
  const r = d.resources;
  const procs = procsPerNode(r);
  const cpusPerTask = r.cpus_per_node ? Math.max(1, Math.floor(r.cpus_per_node / procs)) : undefined;
  const lines = [
    "#!/bin/bash",
    `#SBATCH --job-name=tokenmill-${d.runId.slice(0, 8)}`,
    `#SBATCH --nodes=${r.nodes}`,
    `#SBATCH --ntasks-per-node=${procs}`,
    ...(r.gpus_per_node > 0 ? [`#SBATCH --gpus-per-node=${r.gpus_per_node}`] : []),
    ...(cpusPerTask ? [`#SBATCH --cpus-per-task=${cpusPerTask}`] : []),
    ...(r.memory_gb ? [`#SBATCH --mem=${Math.ceil(r.memory_gb * 1024)}M`] : []),
    ...(r.time_limit_s ? timeLimit(r.time_limit_s, r.signal_lead_s ?? o.signalBeforeLimitS ?? 120) : []),
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.account ? [`#SBATCH --account=${o.account}`] : []),
    "#SBATCH --requeue",
    "#SBATCH --open-mode=append",
    `#SBATCH --output=${d.logPath}`,
    ...(o.cwd ? [`#SBATCH --chdir=${o.cwd}`] : []),
    "set -euo pipefail",
    'echo "tokenmill: slurm job $SLURM_JOB_ID on $SLURM_JOB_NODELIST (restart ${SLURM_RESTART_COUNT:-0})"',
    // Without CPU binding (task/none) PyTorch starts a thread per core of the node, whatever the job asked for.
    ...(cpusPerTask ? [`export OMP_NUM_THREADS=\${OMP_NUM_THREADS:-${cpusPerTask}}`] : []),
  ];
  if (r.nodes * procs > 1) {
    lines.push(
      'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
      "export MASTER_PORT=$((29500 + SLURM_JOB_ID % 1000))",
    );
  }
  // Each task takes its rank from Slurm, then starts the trainer with SIGTERM ignored; the trainer
  // takes SIGTERM over once its handler is installed: a signal during startup (imports, data, model)
  // would otherwise kill it with exit 143, a failure, before it could checkpoint; ignored, the
  // trainer is stopped by the limit's own SIGTERM instead.
  const rank = "export RANK=$SLURM_PROCID WORLD_SIZE=$SLURM_NTASKS LOCAL_RANK=$SLURM_LOCALID LOCAL_WORLD_SIZE=$SLURM_NTASKS_PER_NODE";
  lines.push(`srun --kill-on-bad-exit=1 bash -c '${rank}; trap "" TERM; exec "$@"' trainer ${o.python} -m tokenmill_trainer.train --spec ${d.specPath}`);
  return `${lines.join("\n")}\n`;
}

/**
 * `--time` in whole minutes and the checkpoint signal. Without `B:` Slurm signals the job step's
 * processes and not the batch shell: the trainer gets SIGTERM straight from slurmstepd, while srun
 * (which answers a SIGTERM of its own by "forcing job termination" of its tasks) is left alone.
 */
function timeLimit(limitS: number, leadS: number): string[] {
  const minutes = Math.ceil(limitS / 60);
  const lead = Math.max(1, Math.min(Math.round(leadS), (minutes * 60) / 2));
  return [`#SBATCH --time=${minutes}`, `#SBATCH --signal=TERM@${lead}`];
}

/** `scontrol show job -o` as key → value. */
function fields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.matchAll(/(\w+)=(\S*)/g)) out[m[1]!] ??= m[2]!;
  return out;
}

/**
 * Slurm through its commands (sbatch, scontrol, sacct, scancel) on the launcher's machine, which
 * must be a submit host. The token reaches the job through sbatch's exported environment, never
 * through the script or the command line.
 */
export class SlurmBackend implements Backend {
  readonly name = "slurm";
  readonly survivesLauncher = true;
  constructor(private readonly opts: SlurmBackendOptions) {}

  async submit(d: Dispatch): Promise<string> {
    const script = join(d.workDir, `sbatch-${d.attempt}.sh`);
    await writeFile(script, sbatchScript(d, this.opts), { mode: 0o700 });
    try {
      // --export=ALL hands the job sbatch's own environment, which is the allowlisted one (never the launcher's).
      const { stdout } = await exec("sbatch", ["--parsable", "--export=ALL", script], { env: { ...this.opts.baseEnv, ...d.env }, timeout: 60_000 });
      const id = stdout.trim().split(";")[0]!;
      if (!/^\d+$/.test(id)) throw new Error(`unexpected sbatch output: ${stdout.trim()}`);
      return id;
    } catch (e) {
      const err = e as { stderr?: string; message: string; code?: string };
      if (err.code === "ENOENT") throw new Error("sbatch is not installed on the launcher's machine (it must be a Slurm submit host)");
      throw new Error(`sbatch rejected the job: ${(err.stderr || err.message).trim().split("\n").at(-1)}`);
    }
  }

  async poll(handle: string): Promise<JobState> {
    const f = await this.show(handle);
    const state = (f.JobState ?? "").toUpperCase();
    const [code, sig] = (f.ExitCode ?? "0:0").split(":").map(Number);
    const restarts = Number(f.Restarts ?? 0) || 0;
    switch (state) {
      case "PENDING":
        if (NEVER_STARTS.has(f.Reason ?? "")) {
          return { state: "exited", exitCode: null, preempted: false, fatal: true, reason: `slurm job ${handle} can never start as asked (pending reason ${f.Reason}: more nodes, GPUs or time than the partition allows)` };
        }
        return { state: "pending", restarts };
      case "CONFIGURING":
      case "REQUEUED":
      case "REQUEUE_HOLD":
      case "REQUEUE_FED":
      case "RESIZING":
      case "SUSPENDED":
        return { state: "pending", restarts };
      case "RUNNING":
      // A flag Slurm shows instead of the base state after --signal's warning: the job is still
      // running, often until it exits (seen with 22.05); read as exited, it let the next attempt
      // start a second trainer on the same checkpoints.
      case "SIGNALING":
      case "COMPLETING":
      case "STAGE_OUT":
        return { state: "running", restarts };
      case "COMPLETED":
        return { state: "exited", exitCode: 0, preempted: false, reason: `slurm job ${handle} completed` };
      case "PREEMPTED":
      case "NODE_FAIL":
      case "BOOT_FAIL":
      case "DEADLINE":
      case "TIMEOUT":
        return { state: "exited", exitCode: code ?? null, preempted: true, reason: `slurm job ${handle} ${state.toLowerCase()}${f.Reason && f.Reason !== "None" ? ` (${f.Reason})` : ""}` };
      case "CANCELLED":
        return { state: "exited", exitCode: code ?? null, preempted: true, reason: `slurm job ${handle} was cancelled outside tokenmill` };
      default:
        return { state: "exited", exitCode: sig ? 128 + sig : (code ?? null), preempted: false, reason: `slurm job ${handle} ${state.toLowerCase() || "vanished"}${code ? ` with exit code ${code}` : ""}${sig ? ` (signal ${sig})` : ""}` };
    }
  }

  async cancel(handle: string): Promise<void> {
    await exec("scancel", [handle]).catch(() => undefined);
    const deadline = Date.now() + (this.opts.cancelWaitS ?? 60) * 1000;
    while (Date.now() < deadline) {
      const f = await this.show(handle).catch(() => ({}) as Record<string, string>);
      if (!["PENDING", "RUNNING", "SIGNALING", "COMPLETING", "CONFIGURING", "REQUEUED"].includes(f.JobState ?? "")) return;
      await sleep(500);
    }
  }

  /** scontrol while the controller remembers the job (MinJobAge), else sacct. */
  private async show(handle: string): Promise<Record<string, string>> {
    try {
      const { stdout } = await exec("scontrol", ["show", "job", "-o", handle], { timeout: 30_000 });
      return fields(stdout);
    } catch (e) {
      const msg = ((e as { stderr?: string }).stderr ?? "").trim();
      if (!/Invalid job id/i.test(msg)) throw new Error(`scontrol failed: ${msg || (e as Error).message}`);
    }
    const { stdout } = await exec("sacct", ["-j", handle, "-X", "-n", "-P", "-o", "State,ExitCode"], { timeout: 30_000 });
    const [state, exit] = stdout.trim().split("\n")[0]?.split("|") ?? [];
    return { JobState: (state ?? "").split(" ")[0]!, ExitCode: exit ?? "0:0" };
  }
}
