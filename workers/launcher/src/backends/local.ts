import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import type { Backend, Dispatch, JobState } from "./types.js";

export interface LocalBackendOptions {
  /** Python with tokenmill_trainer importable. */
  python: string;
  /** Grace between SIGTERM (the trainer checkpoints and exits) and SIGKILL, on cancel and when this launcher dies. */
  cancelGraceMs: number;
  /** Working directory of the trainer process (default: the launcher's). */
  cwd?: string;
}

interface Proc {
  child: ChildProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
  cancelled: boolean;
}

/**
 * Runs the trainer as its child, in this process group (the launcher made it a new one), and stops
 * it when the launcher goes away: the launcher holds the write end of this process's stdin, which
 * the kernel closes however the launcher ends (kill -9 included), so EOF means no one watches the
 * run any more — SIGTERM (the trainer checkpoints and exits), then after the grace SIGKILL to the
 * whole group. Without it, a trainer outlived a killed launcher and kept training a run the
 * watchdog then failed as lost. Exits as the trainer did (same code, or the same signal), and
 * ignores SIGTERM/SIGINT itself (a cancel signals the whole group; the trainer decides when to exit).
 * argv: grace seconds, then the trainer's arguments.
 */
const SUPERVISOR = `
import os, signal, subprocess, sys, threading
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, lambda *_: None)  # a handler, not SIG_IGN: handlers are not inherited by the trainer
grace = float(sys.argv[1])
child = subprocess.Popen([sys.executable, "-m", "tokenmill_trainer.train", *sys.argv[2:]], stdin=subprocess.DEVNULL)
def watch():
    while os.read(0, 4096):
        pass
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch, daemon=True).start()
code = child.wait()
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
`;

/**
 * The embedded default: the trainer as a subprocess of the launcher, in its own process group so
 * a cancel reaches every process it started; stdout and stderr go to the run's log file. A small
 * supervisor (SUPERVISOR above) between them stops the trainer if the launcher dies.
 * A process killed by a signal we did not send counts as a preemption (node loss, OOM killer).
 */
export class LocalBackend implements Backend {
  readonly name = "local";
  private readonly procs = new Map<string, Proc>();

  constructor(private readonly opts: LocalBackendOptions) {}

  async submit(d: Dispatch): Promise<string> {
    const fd = openSync(d.logPath, "a");
    try {
      const child = spawn(this.opts.python, ["-c", SUPERVISOR, String(this.opts.cancelGraceMs / 1000), "--spec", d.specPath], {
        cwd: this.opts.cwd,
        env: { ...process.env, ...d.env, PYTHONUNBUFFERED: "1", ...(d.resources.gpus_per_node === 0 ? { CUDA_VISIBLE_DEVICES: "" } : {}) },
        // stdin: the pipe whose end tells the supervisor that this launcher is gone; never written.
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
    if (!p) return { state: "exited", exitCode: null, preempted: true, reason: `process ${handle} is not a child of this launcher (launcher restarted?)` };
    if (!p.exit) return { state: "running" };
    this.procs.delete(handle);
    const { code, signal } = p.exit;
    if (signal) return { state: "exited", exitCode: null, signal, preempted: !p.cancelled, reason: `trainer killed by ${signal}` };
    return { state: "exited", exitCode: code, preempted: false, reason: code === 0 ? "trainer exited 0" : `trainer exited with code ${code}` };
  }

  async cancel(handle: string): Promise<void> {
    const p = this.procs.get(handle);
    if (!p || p.exit) return;
    p.cancelled = true;
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-p.child.pid!, sig);
      } catch {
        /* already gone */
      }
    };
    group("SIGTERM");
    const timer = setTimeout(() => group("SIGKILL"), this.opts.cancelGraceMs);
    await p.exited;
    clearTimeout(timer);
    group("SIGKILL"); // anything the trainer left behind in its group
  }
}
