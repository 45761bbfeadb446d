import { hostname } from "node:os";
import { join } from "node:path";
import { trainerEnvironment } from "./backends/trainer-env.js";
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
  /** A run whose heartbeat is older than this is adopted by a launcher with its backend: its launcher died (default 20 s). */
  adoptAfterMs: number;
  /** How long a backend may fail to answer polls (retried with backoff) before the job is cancelled and the run failed (default 5 min). */
  pollFailMs: number;
  /** Time between SIGTERM (checkpoint and exit) and SIGKILL on cancel (default 30 s). */
  cancelGraceMs: number;
  /** The launcher's environment as the trainer may see it (an allowlist: no database, Redis or API secrets); the run's own variables are added per run. */
  trainerBaseEnv: Record<string, string>;
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
    adoptAfterMs: envInt(env, "ADOPT_AFTER_MS", 20_000),
    pollFailMs: envInt(env, "POLL_FAIL_MS", 300_000),
    cancelGraceMs: envInt(env, "CANCEL_GRACE_MS", 30_000),
    trainerBaseEnv: trainerEnvironment(env),
    slurmPartition: env.SLURM_PARTITION || undefined,
    slurmAccount: env.SLURM_ACCOUNT || undefined,
    k8s: env.K8S_IMAGE
      ? { image: env.K8S_IMAGE, namespace: env.K8S_NAMESPACE || "default", checkpointClaim: env.K8S_CHECKPOINT_CLAIM || undefined, envFromSecret: env.K8S_ENV_SECRET || undefined, serviceAccountName: env.K8S_SERVICE_ACCOUNT || undefined }
      : undefined,
  };
}
