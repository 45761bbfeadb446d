/** What a backend is asked to run: one trainer job (all ranks) for one attempt of a run. */
export interface Dispatch {
  runId: string;
  attempt: number;
  /** The job spec (contract 5) on a path every rank can read. */
  specPath: string;
  workDir: string;
  /** Where the backend writes the trainer's stdout and stderr. */
  logPath: string;
  /** Secrets and settings for the trainer's environment (TOKENMILL_RUN_TOKEN among them). */
  env: Record<string, string>;
  resources: { nodes: number; gpus_per_node: number; cpus_per_node?: number; memory_gb?: number; time_limit_s?: number };
}

export type JobState =
  /** restarts: times the scheduler itself requeued the job (Slurm --requeue on preemption or node failure). */
  | { state: "pending" | "running"; restarts?: number }
  | { state: "exited"; exitCode: number | null; signal?: string | null; preempted: boolean; reason: string; fatal?: boolean };
// fatal: retrying cannot help (the job can never be scheduled as asked); the launcher cancels it and fails the run.

/**
 * A place that runs trainer jobs: local subprocesses, Slurm, Kubernetes. submit() throws when the
 * backend refuses or cannot be reached (the run fails with that message); poll() and cancel() take
 * the handle submit() returned, which is stored on the run as its external id.
 */
export interface Backend {
  readonly name: string;
  submit(d: Dispatch): Promise<string>;
  poll(handle: string): Promise<JobState>;
  /** Stops the job and everything it started; resolves once it is gone. */
  cancel(handle: string): Promise<void>;
}
