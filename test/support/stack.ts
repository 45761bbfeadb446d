import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { pino } from "pino";
import { newApiToken, type Scope } from "@tokenmill/domain";
import { asBullConnection, createQueues, redisConnection } from "@tokenmill/queues";
import { openStore, type ObjectStore, type SourcePolicy } from "@tokenmill/storage";
import { createTestDatabase, startS3Server, testRedis, type TestS3Server } from "@tokenmill/testkit";
import { buildApp, loadApiConfig, type App } from "@tokenmill/api";
import { createCurationWorker } from "@tokenmill/curator";
import type { Worker } from "bullmq";

/**
 * The whole service on real infrastructure for one test file: a fresh PostgreSQL database, a
 * unique BullMQ prefix on the real Redis, an object store (a temp folder or a loopback S3
 * server), the API (driven with inject) and, optionally, an in-process curator worker.
 */
export interface Stack {
  app: App;
  prisma: Awaited<ReturnType<typeof createTestDatabase>>["prisma"];
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  store: ObjectStore;
  storeUri: string;
  s3?: TestS3Server;
  worker?: Worker;
  /** Environment for a curator worker subprocess sharing this stack. */
  workerEnv: Record<string, string>;
  token(scopes: Scope[]): Promise<string>;
  admin: string;
  /** `sourcePolicy` overrides the stack's (e.g. to narrow it after a source was registered). */
  startWorker(opts?: { lockDurationMs?: number; stalledIntervalMs?: number; sourcePolicy?: SourcePolicy }): Promise<Worker>;
  close(): Promise<void>;
}

const REPO = join(import.meta.dirname, "..", "..");

/**
 * The source guard settings tests run with unless they pass their own: the repository's fixtures
 * and data folders and the system temp folder (where tests write their inputs) as file roots, and
 * the loopback addresses (every test server listens there) on the http allowlist.
 */
export const TEST_SOURCE_ENV = {
  FILE_SOURCE_ROOTS: [join(REPO, "test", "fixtures"), join(REPO, "data"), tmpdir()].join(delimiter),
  HTTP_SOURCE_ALLOW: "127.0.0.1,::1,localhost",
};

export interface StackOptions {
  store?: "file" | "s3";
  worker?: boolean;
  /** FILE_SOURCE_ROOTS / HTTP_SOURCE_ALLOW / S3_SOURCE_BUCKETS for the API and workers; default TEST_SOURCE_ENV. */
  sourceEnv?: Record<string, string>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const db = await createTestDatabase();
  const redis = testRedis();
  const tmp = await mkdtemp(join(tmpdir(), "tokenmill-stack-"));
  let s3: TestS3Server | undefined;
  let storeUri = `file://${join(tmp, "store")}`;
  let s3Settings = { region: "us-east-1", forcePathStyle: false } as ReturnType<typeof loadApiConfig>["s3"];
  if (opts.store === "s3") {
    s3 = await startS3Server();
    storeUri = `s3://${s3.bucket}/tokenmill`;
    s3Settings = { endpoint: s3.endpoint, region: s3.options.region, forcePathStyle: true, accessKeyId: s3.options.accessKeyId, secretAccessKey: s3.options.secretAccessKey };
  }
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: redis.prefix,
    STORE_URI: storeUri,
    LOG_LEVEL: "warn",
    ...(opts.sourceEnv ?? TEST_SOURCE_ENV),
    ...(s3
      ? { S3_ENDPOINT: s3.endpoint, S3_REGION: s3.options.region, S3_FORCE_PATH_STYLE: "true", S3_ACCESS_KEY_ID: s3.options.accessKeyId, S3_SECRET_ACCESS_KEY: s3.options.secretAccessKey }
      : {}),
  };
  const config = loadApiConfig(env);
  const queues = createQueues({ redisUrl: redis.url, prefix: redis.prefix });
  const store = openStore(storeUri, s3Settings);
  const app = await buildApp({ prisma: db.prisma, queues, store, config });
  await app.ready();
  const logger = pino({ level: "warn" });
  const workers: Worker[] = [];

  const token = async (scopes: Scope[]) => {
    const t = newApiToken();
    await db.prisma.apiToken.create({ data: { name: `test-${scopes.join("-")}`, scopes, prefix: t.prefix, tokenHash: t.hash } });
    return t.token;
  };
  const startWorker = async (w: { lockDurationMs?: number; stalledIntervalMs?: number; sourcePolicy?: SourcePolicy } = {}) => {
    const worker = createCurationWorker(
      { prisma: db.prisma, store, queues, logger, s3: s3Settings, sourcePolicy: w.sourcePolicy ?? config.sourcePolicy, workerId: `test-${process.pid}-${workers.length}` },
      {
        connection: asBullConnection(redisConnection(redis.url)),
        prefix: redis.prefix,
        concurrency: 1,
        lockDurationMs: w.lockDurationMs ?? 30_000,
        stalledIntervalMs: w.stalledIntervalMs ?? 15_000,
      },
    );
    await worker.waitUntilReady();
    workers.push(worker);
    return worker;
  };
  const stack: Stack = {
    app,
    prisma: db.prisma,
    databaseUrl: db.url,
    redisUrl: redis.url,
    queuePrefix: redis.prefix,
    store,
    storeUri,
    s3,
    workerEnv: env,
    token,
    admin: await token(["admin"]),
    startWorker,
    async close() {
      await Promise.allSettled(workers.map((w) => w.close(true)));
      await app.close();
      await queues.close();
      await redis.cleanup();
      await db.drop();
      await s3?.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
  if (opts.worker) stack.worker = await startWorker();
  return stack;
}

/** Polls the API until the run reaches a terminal status (or the deadline passes). */
export async function waitForRun(stack: Stack, runId: string, timeoutMs = 120_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.app.inject({ method: "GET", url: `/curation-runs/${runId}`, headers: { authorization: `Bearer ${stack.admin}` } });
    const run = res.json();
    if (["succeeded", "failed", "cancelled"].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} after ${timeoutMs} ms: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
