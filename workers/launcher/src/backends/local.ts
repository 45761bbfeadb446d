import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { procsPerNode, type Backend, type Dispatch, type JobState } from "./types.js";

export interface LocalBackendOptions {
  /** Python with tokenmill_trainer importable. */
  python: string;
  /** Grace between SIGTERM (the trainer checkpoints and exits) and SIGKILL, on cancel and when this launcher dies (a run's resources.signal_lead_s overrides it). */
  cancelGraceMs: number;
  /** Working directory of the trainer process (default: the launcher's). */
  cwd?: string;
  /** The trainer's environment besides the run's own (LauncherConfig.trainerBaseEnv: allowlisted; default none). */
  baseEnv?: Record<string, string>;
}

interface Proc {
  child: ChildProcess;
  /** From SIGTERM to SIGKILL on a cancel: the run's signal_lead_s, else the backend's cancelGraceMs. */
  graceMs: number;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
  cancelled: boolean;
}

/**
 * The embedded default: the trainer's ranks (one per GPU, or resources.procs_per_node on CPU) started
 * by `python -m tokenmill_trainer.launch` as a subprocess of the launcher, in its own process group
 * so a cancel reaches every process it started; stdout and stderr go to the run's log file. A rank
 * killed by a signal we did not send counts as a preemption (node loss, OOM killer).
 */
/** Whether any process of group `pgid` is alive (the trainer's launch process leads its own group). */
function groupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class LocalBackend implements Backend {
  readonly name = "local";
  private readonly procs = new Map<string, Proc>();

  constructor(private readonly opts: LocalBackendOptions) {}

  async submit(d: Dispatch): Promise<string> {
    const fd = openSync(d.logPath, "a");
    try {
      if (d.resources.nodes !== 1) throw new Error(`the local backend runs on this machine only: nodes must be 1, got ${d.resources.nodes}`);
      const procs = procsPerNode(d.resources);
      // tokenmill_trainer.launch starts the ranks and stops them when this launcher dies: it holds the
      // write end of the launch's stdin, which the kernel closes however this process ends (kill -9
      // included); without that, a trainer outlived a killed launcher and kept training a run the
      // watchdog then failed as lost.
      const graceMs = d.resources.signal_lead_s !== undefined ? d.resources.signal_lead_s * 1000 : this.opts.cancelGraceMs;
      const args = ["-m", "tokenmill_trainer.launch", "--nproc-per-node", String(procs), "--watch-stdin", "--grace", String(graceMs / 1000), "--", "--spec", d.specPath];
      const child = spawn(this.opts.python, args, {
        cwd: this.opts.cwd,
        env: { ...this.opts.baseEnv, ...d.env, PYTHONUNBUFFERED: "1", ...(d.resources.gpus_per_node === 0 ? { CUDA_VISIBLE_DEVICES: "" } : {}) },
        // stdin: the pipe whose end tells tokenmill_trainer.launch that this launcher is gone; never written.
        stdio: ["pipe", fd, fd],
        detached: true,
      });
      child.stdin!.on("error", () => {});
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", (e) => reject(new Error(`cannot start ${this.opts.python}: ${e.message}`)));
      });
      const proc: Proc = {
        child,
        graceMs,
        cancelled: false,
        exited: new Promise((r) =>
          child.once("exit", (code, signal) => {
            proc.exit = { code, signal };
            child.stdin!.destroy();
            r();
          }),
        ),
      };
      const handle = String(child.pid);
      this.procs.set(handle, proc);
      return handle;
    } finally {
      closeSync(fd);
    }
  }

  async poll(handle: string): Promise<JobState> {
    const p = this.procs.get(handle);
    if (!p) {
      // Started by a launcher that is gone (this one adopted the run): that trainer saw its stdin close,
      // checkpoints and exits; it is done once its process group is empty. Its exit status went to
      // its dead parent, so the trainer's log decides how it ended.
      if (groupAlive(Number(handle))) return { state: "running" };
      return { state: "exited", exitCode: null, preempted: true, orphaned: true, reason: `trainer ${handle} stopped with the launcher that started it` };
    }
    if (!p.exit) return { state: "running" };
    this.procs.delete(handle);
    const { code, signal } = p.exit;
    if (signal) return { state: "exited", exitCode: null, signal, preempted: !p.cancelled, reason: `trainer killed by ${signal}` };
    return { state: "exited", exitCode: code, preempted: false, reason: code === 0 ? "trainer exited 0" : `trainer exited with code ${code}` };
  }

  async cancel(handle: string): Promise<void> {
    const p = this.procs.get(handle);
    if (!p) return this.cancelOrphan(Number(handle));
    if (p.exit) return;
    p.cancelled = true;
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-p.child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    group("SIGTERM");
    const timer = setTimeout(() => group("SIGKILL"), p.graceMs);
    await p.exited;
    clearTimeout(timer);
    group("SIGKILL"); // anything the trainer left behind in its group
  }

  /** A trainer group left by a launcher that is gone: SIGTERM (it checkpoints), SIGKILL after the grace. */
  private async cancelOrphan(pgid: number): Promise<void> {
    const signal = (sig: NodeJS.Signals) => {
      try {
        if (groupAlive(pgid)) process.kill(-pgid, sig);
      } catch {
        /* already gone */
      }
    };
    signal("SIGTERM");
    const deadline = Date.now() + this.opts.cancelGraceMs;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    signal("SIGKILL");
  }
}
