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
  resources: Resources;
}

/** What one run asks of the backend (TrainingRun.resources). */
export interface Resources {
  nodes: number;
  gpus_per_node: number;
  /** Trainer processes per node: one per GPU; on CPU 1 unless given (several train data-parallel with gloo). */
  procs_per_node?: number;
  cpus_per_node?: number;
  memory_gb?: number;
  time_limit_s?: number;
  /**
   * Seconds the trainer gets to checkpoint when it must stop: Slurm signals it this long before
   * time_limit_s, Kubernetes waits this long between a pod's SIGTERM and SIGKILL (default: the
   * backend's, 120). Size it to one step plus writing a checkpoint.
   */
  signal_lead_s?: number;
}

/** Trainer processes per node: procs_per_node, else one per GPU, else one. */
export function procsPerNode(r: Pick<Resources, "gpus_per_node" | "procs_per_node">): number {
  return r.procs_per_node ?? Math.max(1, r.gpus_per_node);
}

/** Trainer processes in all (the data-parallel world size). */
export function worldSize(r: Pick<Resources, "nodes" | "gpus_per_node" | "procs_per_node">): number {
  return r.nodes * procsPerNode(r);
}

export type JobState =
  /** restarts: times the scheduler itself requeued the job (Slurm --requeue on preemption or node failure). */
  | { state: "pending" | "running"; restarts?: number }
  | { state: "exited"; exitCode: number | null; signal?: string | null; preempted: boolean; reason: string; fatal?: boolean; orphaned?: boolean };
// fatal: retrying cannot help (the job can never be scheduled as asked); the launcher cancels it and fails the run.
// orphaned: the job was started by a launcher that is gone, so its exit status is unknown; the trainer's log tells.

/**
 * A place that runs trainer jobs: local subprocesses, Slurm, Kubernetes. submit() throws when the
 * backend refuses or cannot be reached (the run fails with that message); poll() and cancel() take
 * the handle submit() returned, which is stored on the run as its external id.
 */
export interface Backend {
  readonly name: string;
  /**
   * Whether a job outlives the launcher that submitted it (Slurm, Kubernetes): another launcher then
   * re-attaches to it by its handle. A local trainer does not: it checkpoints and stops with its launcher.
   */
  readonly survivesLauncher?: boolean;
  submit(d: Dispatch): Promise<string>;
  poll(handle: string): Promise<JobState>;
  /** Stops the job and everything it started; resolves once it is gone. */
  cancel(handle: string): Promise<void>;
}
