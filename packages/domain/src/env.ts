import { ValidationError } from "./errors.js";

/** Helpers for the per-deployable env schemas (each deployable parses its env once, in one file). */
export type Env = Record<string, string | undefined>;

export function envInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new ValidationError(`must be a non-negative integer, got "${raw}"`, name);
  return n;
}

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes"].includes(raw.toLowerCase())) return true;
  if (["0", "false", "no"].includes(raw.toLowerCase())) return false;
  throw new ValidationError(`must be true or false, got "${raw}"`, name);
}

/** S3 connection settings shared by every deployable that touches the object store. */
export interface S3Settings {
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export function s3SettingsFromEnv(env: Env): S3Settings {
  return {
    endpoint: env.S3_ENDPOINT || undefined,
    region: env.S3_REGION || "us-east-1",
    forcePathStyle: envBool(env, "S3_FORCE_PATH_STYLE", false),
    accessKeyId: env.S3_ACCESS_KEY_ID || env.AWS_ACCESS_KEY_ID || undefined,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY || env.AWS_SECRET_ACCESS_KEY || undefined,
  };
}

/** Settings every service and worker shares: database, Redis, queue prefix and object store. */
export interface CoreConfig {
  databaseUrl: string;
  redisUrl: string;
  /** BullMQ key prefix. */
  queuePrefix: string;
  /** Where dataset versions are written: `file:///abs/dir` (default `<cwd>/.tokenmill/store`) or `s3://bucket/prefix`. */
  storeUri: string;
  s3: S3Settings;
  logLevel: string;
}

export function coreConfigFromEnv(env: Env, cwd: string): CoreConfig {
  return {
    databaseUrl: env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/tokenmill",
    redisUrl: env.REDIS_URL || "redis://127.0.0.1:6379",
    queuePrefix: env.QUEUE_PREFIX || "tokenmill",
    storeUri: env.STORE_URI || `file://${cwd}/.tokenmill/store`,
    s3: s3SettingsFromEnv(env),
    logLevel: env.LOG_LEVEL || "info",
  };
}
