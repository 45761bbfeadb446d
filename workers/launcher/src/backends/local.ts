import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { procsPerNode, type Backend, type Dispatch, type JobState } from "./types.js";

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
 * Runs the trainer's processes as its children, in this process group (the launcher made it a new
 * one), and stops them when the launcher goes away: the launcher holds the write end of this
 * process's stdin, which the kernel closes however the launcher ends (kill -9 included), so EOF
 * means no one watches the run any more — SIGTERM (the trainer checkpoints and exits), then after
 * the grace SIGKILL to the whole group. Without it, a trainer outlived a killed launcher and kept
 * training a run the watchdog then failed as lost. Several processes (one per GPU, or procs_per_node
 * on CPU) get RANK, WORLD_SIZE, LOCAL_RANK, a free loopback port for torch's env:// rendezvous and
 * their share of the cores (OMP_NUM_THREADS, unless set);
 * when one fails or is killed the others are killed at once (they would wait in a collective
 * forever). Exits as the failed process did (the signal of one killed by a signal, else the first
 * non-zero code), else 0, and
 * ignores SIGTERM/SIGINT itself (a cancel signals the whole group; the trainers decide when to exit).
 * argv: grace seconds, processes, then the trainer's arguments.
 */
const SUPERVISOR = `
import os, signal, socket, subprocess, sys, threading, time
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, lambda *_: None)  # a handler, not SIG_IGN: handlers are not inherited by the trainer
grace, procs = float(sys.argv[1]), int(sys.argv[2])
cmd = [sys.executable, "-m", "tokenmill_trainer.train", *sys.argv[3:]]
envs = [dict(os.environ)]
if procs > 1:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    common = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(procs), LOCAL_WORLD_SIZE=str(procs))
    # The machine's cores shared out (PyTorch would start a thread per core in every process).
    common.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // procs)))
    envs = [dict(common, RANK=str(i), LOCAL_RANK=str(i)) for i in range(procs)]
children = [subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env) for env in envs]
def watch():
    while os.read(0, 4096):
        pass
    for c in children:
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and any(c.poll() is None for c in children):
        time.sleep(0.1)
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=watch, daemon=True).start()
code = 0
while True:
    codes = [c.poll() for c in children]
    failed = [x for x in codes if x not in (None, 0)]
    if failed:
        # A rank killed by a signal is the cause: the others then fail because their peer vanished.
        code = min(failed) if min(failed) < 0 else failed[0]
        for c in children:
            if c.poll() is None:
                c.kill()
        for c in children:
            c.wait()
        break
    if all(x == 0 for x in codes):
        break
    time.sleep(0.1)
if code < 0:
    if -code not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught, nor their handler set
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
`;

/**
 * The embedded default: the trainer as a subprocess of the launcher, in its own process group so
 * a cancel reaches every process it started; stdout and stderr go to the run's log file. A small
 * supervisor (SUPERVISOR above) between them stops the trainer if the launcher dies.
 * A process killed by a signal we did not send counts as a preemption (node loss, OOM killer).
 * Several trainer processes (one per GPU, or resources.procs_per_node on CPU) train data-parallel.
 */
export class LocalBackend implements Backend {
  readonly name = "local";
  private readonly procs = new Map<string, Proc>();

  constructor(private readonly opts: LocalBackendOptions) {}

  async submit(d: Dispatch): Promise<string> {
    const fd = openSync(d.logPath, "a");
    try {
      if (d.resources.nodes !== 1) throw new Error(`the local backend runs on this machine only: nodes must be 1, got ${d.resources.nodes}`);
      const procs = procsPerNode(d.resources);
      const child = spawn(this.opts.python, ["-c", SUPERVISOR, String(this.opts.cancelGraceMs / 1000), String(procs), "--spec", d.specPath], {
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
