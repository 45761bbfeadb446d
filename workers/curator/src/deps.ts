import type { Logger } from "pino";
import type { PrismaClient } from "@tokenmill/db";
import type { S3Settings } from "@tokenmill/domain";
import type { Queues } from "@tokenmill/queues";
import type { ObjectStore } from "@tokenmill/storage";

/** What the curation processors need; main.ts builds them from env, tests from real services. */
export interface CuratorDeps {
  prisma: PrismaClient;
  store: ObjectStore;
  queues: Queues;
  logger: Logger;
  /** Credentials for reading s3:// sources. */
  s3: S3Settings;
  workerId: string;
}
