import type { Logger } from "pino";
import type { PrismaClient } from "@tokenmill/db";
import type { S3Settings } from "@tokenmill/domain";
import type { Queues } from "@tokenmill/queues";
import type { InputOptions, ObjectStore, SourcePolicy } from "@tokenmill/storage";

/** What the curation processors need; main.ts builds them from env, tests from real services. */
export interface CuratorDeps {
  prisma: PrismaClient;
  store: ObjectStore;
  queues: Queues;
  logger: Logger;
  /** Credentials for reading s3:// sources. */
  s3: S3Settings;
  /** What the run's source and file-naming pipeline parameters may read; re-checked on every open. */
  sourcePolicy: SourcePolicy;
  workerId: string;
}

/** How every job opens a run's inputs: the S3 credentials and the source guard's current policy. */
export function inputOptions(deps: Pick<CuratorDeps, "s3" | "sourcePolicy" | "logger">): InputOptions {
  return { s3: deps.s3, policy: deps.sourcePolicy, logger: deps.logger };
}
