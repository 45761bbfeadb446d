import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.js";

export * from "./generated/client.js";
export { migrate, MigrationStateError, PRISMA_MIGRATE_LOCK_KEY } from "./migrate.js";
export type { MigrateLogger, MigrateOptions, MigrateResult } from "./migrate.js";
export { readMigrations, migrationsFingerprint, checksumOf, DEFAULT_MIGRATIONS_DIR } from "./migrations-dir.js";
export type { MigrationFolder } from "./migrations-dir.js";
export { withDatabase, databaseName, redact, quoteIdent } from "./pg-url.js";

/** A Prisma client over node-postgres for `databaseUrl`. Call `$disconnect()` when done. */
export function createPrisma(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}
