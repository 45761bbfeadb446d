import { hostname } from "node:os";
import { join } from "node:path";
import { coreConfigFromEnv, envInt, type CoreConfig, type Env } from "@tokenmill/domain";

/** The launcher worker's environment, parsed once. Nothing else in the launcher reads process.env. */
export interface LauncherConfig extends CoreConfig {
  workerId: string;
  /** Runs watched at once by this process (default 4; a watched run costs a poll per second). */
  concurrency: number;
  /** Base URL the trainer posts progress to (default http://127.0.0.1:8080): `<API_URL>/runs/<id>/progress`. */
  apiUrl: string;
  /** Where each run's folder (job.json, logs, checkpoints) goes (default <cwd>/.tokenmill/runs). */
  runsDir: string;
  /** Python with tokenmill_trainer installed, for the local backend (default <cwd>/.venv/bin/python). */
  python: string;
  /** How often a watched run's backend status and cancel flag are read (default 1000 ms). */
  pollMs: number;
  /** A run in starting/running whose launcher heartbeat is older than this is failed as lost (default 60 s). */
  lostAfterMs: number;
  /** Time between SIGTERM (checkpoint and exit) and SIGKILL on cancel (default 30 s). */
  cancelGraceMs: number;
  /** Slurm partition and account for sbatch (default: the cluster's defaults). */
  slurmPartition?: string;
  slurmAccount?: string;
  /** Kubernetes: the backend is enabled when K8S_IMAGE (the trainer image) is set; namespace default "default". */
  k8s?: { image: string; namespace: string; checkpointClaim?: string; envFromSecret?: string; serviceAccountName?: string };
}

export function loadLauncherConfig(env: Env, cwd = process.cwd()): LauncherConfig {
  return {
    ...coreConfigFromEnv(env, cwd),
    workerId: env.WORKER_ID || `${hostname()}-${process.pid}`,
    concurrency: Math.max(1, envInt(env, "CONCURRENCY", 4)),
    apiUrl: (env.API_URL || `http://127.0.0.1:${env.PORT || 8080}`).replace(/\/$/, ""),
    runsDir: env.RUNS_DIR || join(cwd, ".tokenmill", "runs"),
    python: env.TRAINER_PYTHON || join(cwd, ".venv", "bin", "python"),
    pollMs: Math.max(50, envInt(env, "POLL_MS", 1000)),
    lostAfterMs: envInt(env, "LOST_AFTER_MS", 60_000),
    cancelGraceMs: envInt(env, "CANCEL_GRACE_MS", 30_000),
    slurmPartition: env.SLURM_PARTITION || undefined,
    slurmAccount: env.SLURM_ACCOUNT || undefined,
    k8s: env.K8S_IMAGE
      ? { image: env.K8S_IMAGE, namespace: env.K8S_NAMESPACE || "default", checkpointClaim: env.K8S_CHECKPOINT_CLAIM || undefined, envFromSecret: env.K8S_ENV_SECRET || undefined, serviceAccountName: env.K8S_SERVICE_ACCOUNT || undefined }
      : undefined,
  };
}
