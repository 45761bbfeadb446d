/**
 * The trainer's environment is built from an allowlist: what Python, PyTorch and the accelerator
 * stack read, plus the run's own variables (Dispatch.env: TOKENMILL_RUN_TOKEN, S3 settings for
 * s3:// versions). Nothing else of the launcher's environment goes in — DATABASE_URL, REDIS_URL,
 * API tokens and whatever an operator exported for the launcher stay with the launcher.
 */
const NAMES = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TERM",
  "TMPDIR",
  "TMP",
  "TEMP",
  "VIRTUAL_ENV",
  "LD_LIBRARY_PATH",
  "OMP_NUM_THREADS",
  "MKL_NUM_THREADS",
  "OPENBLAS_NUM_THREADS",
  "XDG_CACHE_HOME",
  // Hugging Face: where the cache is and whether to stay offline; never HF_TOKEN.
  "HF_HOME",
  "HF_HUB_CACHE",
  "HF_DATASETS_CACHE",
  "HF_HUB_OFFLINE",
  "HF_DATASETS_OFFLINE",
  "TRANSFORMERS_OFFLINE",
  // Slurm's client commands (sbatch) find a non-default slurm.conf through it.
  "SLURM_CONF",
]);
const PREFIXES = ["LC_", "PYTHON", "CUDA_", "NVIDIA_", "NCCL_", "TORCH_", "TORCHINDUCTOR_", "TRITON_", "GLOO_", "KMP_"];

/** The allowlisted part of the launcher's environment, the base every backend adds the run's variables to. */
export function trainerEnvironment(launcherEnv: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(launcherEnv)) {
    if (v !== undefined && (NAMES.has(k) || PREFIXES.some((p) => k.startsWith(p)))) out[k] = v;
  }
  return out;
}
