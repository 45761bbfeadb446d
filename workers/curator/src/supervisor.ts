import { fork, type ChildProcess } from "node:child_process";
import type { Logger } from "pino";

export interface SupervisorOptions {
  /** Worker processes to keep running. */
  processes: number;
  /** Module each worker process runs. */
  modulePath: string;
  /** Node flags of the workers (default: this process's own, so a tsx loader carries over). */
  execArgv?: string[];
  /** Environment of worker `k` (1-based). */
  env(k: number): NodeJS.ProcessEnv;
  logger: Logger;
  /** How long workers may drain after stop() before they are killed with SIGKILL. */
  shutdownTimeoutMs: number;
  /** First restart delay after an unexpected exit; doubles with each quick death (default 1 s). */
  restartDelayMs?: number;
  /** Longest restart delay (default 30 s). */
  maxRestartDelayMs?: number;
  /** A worker that ran this long before dying counts as healthy: its back-off starts over (default 60 s). */
  stableAfterMs?: number;
  /** Quick deaths in a row of one worker after which the supervisor stops everything (default 5). */
  maxRestarts?: number;
}

export interface Supervisor {
  /**
   * Settles once every worker has exited after stop(): 0 when they all drained in time, 1 after a
   * crash loop or when some had to be killed at the timeout.
   */
  readonly done: Promise<number>;
  /** Graceful stop: SIGTERM to every worker, SIGKILL after `shutdownTimeoutMs`. Called again, it kills at once. */
  stop(reason: string): void;
  /** Pid of each worker slot's current process (undefined while it waits to be restarted). */
  pids(): (number | undefined)[];
}

interface Slot {
  k: number;
  child?: ChildProcess;
  startedAt: number;
  /** Deaths in a row, each before `stableAfterMs`. */
  quickDeaths: number;
  restartTimer?: NodeJS.Timeout;
}

/**
 * Keeps `processes` worker processes running (child_process.fork, each with its own IPC channel
 * and inherited stdio, so their JSON logs interleave on this process's stdout). A worker that exits
 * unexpectedly is restarted after an exponential back-off; one that keeps dying quickly makes the
 * supervisor give up — stop the others and settle `done` with 1 — instead of spinning. BullMQ
 * hands a dead worker's jobs to the live ones once their locks expire, so a restart loses nothing.
 */
export function superviseWorkers(opts: SupervisorOptions): Supervisor {
  const restartDelayMs = opts.restartDelayMs ?? 1_000;
  const maxRestartDelayMs = opts.maxRestartDelayMs ?? 30_000;
  const stableAfterMs = opts.stableAfterMs ?? 60_000;
  const maxRestarts = opts.maxRestarts ?? 5;
  const log = opts.logger;
  const slots: Slot[] = Array.from({ length: opts.processes }, (_, i) => ({ k: i + 1, startedAt: 0, quickDeaths: 0 }));
  let stopping = false;
  let failed = false;
  let killTimer: NodeJS.Timeout | undefined;
  let settle!: (code: number) => void;
  const done = new Promise<number>((resolve) => (settle = resolve));

  const start = (slot: Slot) => {
    const child = fork(opts.modulePath, [], { env: opts.env(slot.k), execArgv: opts.execArgv ?? process.execArgv, stdio: "inherit" });
    slot.child = child;
    slot.startedAt = Date.now();
    log.info({ slot: slot.k, childPid: child.pid }, "worker process started");
    // A failed spawn may never emit "exit"; treat it as one so the slot is restarted or given up on.
    child.once("error", (err) => {
      log.error({ slot: slot.k, err: err.message }, "worker process error");
      if (child.exitCode === null && child.signalCode === null && child.pid === undefined) onExit(slot, child, null, null);
    });
    child.once("exit", (code, signal) => onExit(slot, child, code, signal));
  };

  const onExit = (slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null) => {
    if (slot.child !== child) return;
    slot.child = undefined;
    const livedMs = Date.now() - slot.startedAt;
    if (stopping) {
      log.info({ slot: slot.k, childPid: child.pid, code, signal }, "worker process exited");
      settleIfDone();
      return;
    }
    slot.quickDeaths = livedMs >= stableAfterMs ? 1 : slot.quickDeaths + 1;
    if (slot.quickDeaths > maxRestarts) {
      log.error({ slot: slot.k, childPid: child.pid, code, signal, deaths: slot.quickDeaths }, "worker process is crash-looping; stopping all workers");
      failed = true;
      stop("crash loop");
      return;
    }
    const delayMs = Math.min(maxRestartDelayMs, restartDelayMs * 2 ** (slot.quickDeaths - 1));
    log.warn({ slot: slot.k, childPid: child.pid, code, signal, livedMs, restartInMs: delayMs, deaths: slot.quickDeaths }, "worker process exited unexpectedly; restarting");
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (!stopping) start(slot);
    }, delayMs);
  };

  const settleIfDone = () => {
    if (!stopping || slots.some((s) => s.child)) return;
    clearTimeout(killTimer);
    settle(failed ? 1 : 0);
  };

  const stop = (reason: string) => {
    if (stopping) {
      // A second signal (Ctrl-C twice): do not wait for the drain.
      log.warn({ reason }, "stopping now: killing worker processes");
      failed = true;
      for (const s of slots) s.child?.kill("SIGKILL");
      return;
    }
    stopping = true;
    log.info({ reason, timeoutMs: opts.shutdownTimeoutMs }, "stopping worker processes");
    for (const s of slots) {
      clearTimeout(s.restartTimer);
      s.child?.kill("SIGTERM");
    }
    killTimer = setTimeout(() => {
      const left = slots.filter((s) => s.child);
      log.warn({ slots: left.map((s) => s.k), timeoutMs: opts.shutdownTimeoutMs }, "worker processes still draining at the timeout; killing them");
      failed = true;
      for (const s of left) s.child!.kill("SIGKILL");
    }, opts.shutdownTimeoutMs);
    settleIfDone();
  };

  for (const slot of slots) start(slot);
  return { done, stop, pids: () => slots.map((s) => s.child?.pid) };
}
