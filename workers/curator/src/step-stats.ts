import type { StepStats } from "@tokenmill/domain";

/** A run's per-step counts (stats.json `steps`) as step_stats rows, in pipeline order. */
export function stepStatRows(runId: string, steps: StepStats[]) {
  return steps.map((s, position) => ({
    runId,
    position,
    step: s.step,
    docsIn: s.docs_in,
    docsOut: s.docs_out,
    dropped: s.dropped,
    ...(s.counters ? { counters: s.counters } : {}),
  }));
}
