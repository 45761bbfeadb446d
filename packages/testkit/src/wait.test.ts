import { describe, expect, it } from "vitest";
import { waitFor, WaitTimeoutError } from "./wait.js";

describe("waitFor", () => {
  it("returns the first value that meets the condition", async () => {
    let n = 0;
    expect(await waitFor(() => ++n, (v) => v >= 3, { what: "three probes", intervalMs: 1 })).toBe(3);
  });

  it("keeps waiting while the progress moves, and fails once it stalls, naming what and the last state", async () => {
    let n = 0;
    const started = Date.now();
    const err = await waitFor(
      () => ({ step: Math.min(++n, 5), status: "running" }),
      (v) => v.status === "done",
      { what: "the run to end", idleMs: 150, intervalMs: 20, progress: (v) => v.step },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    // five steps of progress kept it alive past one idle period before it stalled at step 5
    expect(n).toBeGreaterThan(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(err.message).toContain("waiting for the run to end: no progress for 0 s");
    expect(err.message).toContain('"step":5');
    expect(err.last).toEqual({ step: 5, status: "running" });
  });

  it("fails past a hard deadline even while the progress moves", async () => {
    let n = 0;
    const err = await waitFor(() => ++n, () => false, { what: "never", deadlineMs: 100, intervalMs: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.message).toMatch(/^waiting for never: not there after 0 s; last seen: \d+$/);
  });
});
