import { ValidationError } from "./errors.js";

/**
 * The job catalog, declared once and shared by producers (API) and workers: queue, job name,
 * payload parser and default options. Payloads carry ids only, never bulk data or secrets.
 */
export interface JobDefinition<P> {
  queue: string;
  name: string;
  parse(data: unknown): P;
  defaults: {
    attempts: number;
    backoff: { type: "exponential"; delay: number };
    removeOnComplete: { age: number; count: number };
    removeOnFail: { age: number };
  };
}

export const CURATION_QUEUE = "curation";
/** Training runs: one job per run, held by a launcher worker for as long as it watches the run. */
export const LAUNCH_QUEUE = "launch";

const defaults = {
  attempts: 5,
  backoff: { type: "exponential" as const, delay: 2_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

function ids<K extends string>(keys: K[]): (data: unknown) => Record<K, string> {
  return (data) => {
    if (data === null || typeof data !== "object") throw new ValidationError("job payload must be an object");
    const out = {} as Record<K, string>;
    for (const k of keys) {
      const v = (data as Record<string, unknown>)[k];
      if (typeof v !== "string" || v.length === 0) throw new ValidationError("must be a non-empty string", `payload.${k}`);
      out[k] = v;
    }
    return out;
  };
}

/** Like ids(), plus non-negative integer fields (a dedup barrier's number, a partition). */
function idsAndInts<K extends string, N extends string>(keys: K[], ints: N[]): (data: unknown) => Record<K, string> & Record<N, number> {
  const parseIds = ids(keys);
  return (data) => {
    const out = parseIds(data) as Record<K, string> & Record<N, number>;
    for (const k of ints) {
      const v = (data as Record<string, unknown>)[k];
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new ValidationError("must be a non-negative integer", `payload.${k}`);
      (out as Record<string, unknown>)[k] = v;
    }
    return out;
  };
}

export const jobs = {
  /** Lists a run's inputs, computes the fingerprint and fans out one task per input. */
  planRun: { queue: CURATION_QUEUE, name: "plan-run", parse: ids(["runId"]), defaults } satisfies JobDefinition<{ runId: string }>,
  /**
   * Counts the newlines of one byte-range task of a split input, so the ranges after it know their
   * line numbers; runs before any pass, under scan-parts.
   */
  scanPart: { queue: CURATION_QUEUE, name: "scan-part", parse: ids(["runId", "taskId"]), defaults } satisfies JobDefinition<{
    runId: string;
    taskId: string;
  }>,
  /** Once every scan-part job is done: gives each byte-range task its line base, then starts the first pass. */
  scanParts: { queue: CURATION_QUEUE, name: "scan-parts", parse: ids(["runId"]), defaults } satisfies JobDefinition<{ runId: string }>,
  /** Runs the pipeline over one input and writes its shards and dropped documents. */
  processTask: {
    queue: CURATION_QUEUE,
    name: "process-task",
    parse: ids(["runId", "taskId"]),
    defaults,
  } satisfies JobDefinition<{ runId: string; taskId: string }>,
  /**
   * Dedup pass for one barrier (a dedup step) over one input: runs the steps before the barrier,
   * applying earlier barriers' drop lists, and writes the task's dedup records (hashes or MinHash
   * signatures, band keys partitioned by hash) instead of shards.
   */
  dedupCollect: {
    queue: CURATION_QUEUE,
    name: "dedup-collect",
    parse: idsAndInts(["runId", "taskId"], ["barrier"]),
    defaults,
  } satisfies JobDefinition<{ runId: string; taskId: string; barrier: number }>,
  /** Once every dedup-collect job of a barrier is done: fans out its partition jobs under a cluster job. */
  dedupBarrier: {
    queue: CURATION_QUEUE,
    name: "dedup-barrier",
    parse: idsAndInts(["runId"], ["barrier"]),
    defaults,
  } satisfies JobDefinition<{ runId: string; barrier: number }>,
  /** Groups one hash partition's records from every task into verified duplicate edges. */
  dedupPartition: {
    queue: CURATION_QUEUE,
    name: "dedup-partition",
    parse: idsAndInts(["runId"], ["barrier", "partition"]),
    defaults,
  } satisfies JobDefinition<{ runId: string; barrier: number; partition: number }>,
  /**
   * Resolves a barrier's edges into per-task drop lists, then starts the next barrier's collect
   * jobs, or the final process-task jobs under finalize-run.
   */
  dedupCluster: {
    queue: CURATION_QUEUE,
    name: "dedup-cluster",
    parse: idsAndInts(["runId"], ["barrier"]),
    defaults,
  } satisfies JobDefinition<{ runId: string; barrier: number }>,
  /** Once every task is done: writes manifest.json and stats.json and records the dataset version. */
  finalizeRun: { queue: CURATION_QUEUE, name: "finalize-run", parse: ids(["runId"]), defaults } satisfies JobDefinition<{ runId: string }>,
  /**
   * Builds a run's job spec, dispatches it to its backend and watches it to the end (retrying within
   * the run's budgets). One attempt of BullMQ only: retries are the launcher's, counted on the run.
   */
  launchRun: {
    queue: LAUNCH_QUEUE,
    name: "launch-run",
    parse: ids(["runId"]),
    defaults: { ...defaults, attempts: 1 },
  } satisfies JobDefinition<{ runId: string }>,
} as const;

export type JobName = (typeof jobs)[keyof typeof jobs]["name"];
