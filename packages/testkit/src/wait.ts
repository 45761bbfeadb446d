/**
 * Waiting on a condition in tests that run on real infrastructure, on machines that may be busy.
 * A fixed budget (N seconds for the whole thing) breaks as soon as the machine is slower than the
 * one it was tuned on; here the budget is progress-based: the wait fails when the observed progress
 * has not moved for `idleMs` (work that is slow but advancing keeps it alive), or past an optional
 * hard `deadlineMs` sized to the work. On failure the error names what it waited for and the last
 * state it saw, so a red test says where it stopped.
 */
export interface WaitOptions<T> {
  /** What is awaited, for the error message ("run 1234 to end"). */
  what: string;
  /** Fail when `progress(value)` has not changed for this long (default 120 s). */
  idleMs?: number;
  /** A hard limit from the start, whatever the progress (default: none, the suite's limit applies). */
  deadlineMs?: number;
  /** The part of the observed value that counts as progress (default: the whole value, as JSON). */
  progress?: (value: T) => unknown;
  /** Time between probes (default 200 ms). */
  intervalMs?: number;
  /** How the last observed value is shown on failure (default: JSON, cut at 2,000 characters). */
  describe?: (value: T) => string;
}

export class WaitTimeoutError extends Error {
  constructor(
    message: string,
    readonly last: unknown,
  ) {
    super(message);
    this.name = "WaitTimeoutError";
  }
}

const show = (v: unknown) => {
  try {
    return (JSON.stringify(v) ?? String(v)).slice(0, 2000);
  } catch {
    return String(v);
  }
};

/** Probes until `until(value)` holds and returns that value; see WaitOptions for when it gives up. */
export async function waitFor<T>(probe: () => T | Promise<T>, until: (value: T) => boolean, opts: WaitOptions<T>): Promise<T> {
  const idleMs = opts.idleMs ?? 120_000;
  const intervalMs = opts.intervalMs ?? 200;
  const key = (v: T) => show(opts.progress ? opts.progress(v) : v);
  const start = Date.now();
  let lastKey: string | undefined;
  let lastMove = start;
  for (;;) {
    const value = await probe();
    if (until(value)) return value;
    const now = Date.now();
    const k = key(value);
    if (k !== lastKey) {
      lastKey = k;
      lastMove = now;
    }
    const describe = () => (opts.describe ? opts.describe(value) : show(value));
    if (now - lastMove > idleMs) {
      throw new WaitTimeoutError(`waiting for ${opts.what}: no progress for ${Math.round(idleMs / 1000)} s (after ${Math.round((now - start) / 1000)} s in all); last seen: ${describe()}`, value);
    }
    if (opts.deadlineMs !== undefined && now - start > opts.deadlineMs) {
      throw new WaitTimeoutError(`waiting for ${opts.what}: not there after ${Math.round(opts.deadlineMs / 1000)} s; last seen: ${describe()}`, value);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
