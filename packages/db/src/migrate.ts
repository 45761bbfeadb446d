// Applies prisma/migrations with `pg`, recording each one in `_prisma_migrations` exactly as
// `prisma migrate deploy` does, so either tool can take over from the other. We need our own
// runner because the CLI's migrate commands download a native schema engine on first use.
import pg from "pg";
import { randomUUID } from "node:crypto";
import { DEFAULT_MIGRATIONS_DIR, readMigrations, type MigrationFolder } from "./migrations-dir.js";
import { databaseName, quoteIdent, redact, withDatabase } from "./pg-url.js";

/** Key of the session advisory lock Prisma Migrate takes on PostgreSQL; sharing it keeps us and the CLI mutually exclusive. */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

// Prisma's DDL for its bookkeeping table (schema-engine sql-migration-connector, postgres flavour).
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MigrateOptions {
  /** Receives one line per applied migration (pino-compatible). Default: silent. */
  logger?: MigrateLogger;
  /** Folder of migration folders. Default: the repository's prisma/migrations. */
  migrationsDir?: string;
}

export interface MigrateResult {
  /** Names of the migrations applied by this call, in order; empty when the database was up to date. */
  applied: string[];
}

/** A migration history that must not be migrated over without a person looking at it. */
export class MigrationStateError extends Error {
  override name = "MigrationStateError";
  constructor(
    message: string,
    readonly migration: string,
  ) {
    super(message);
  }
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Brings the database at `databaseUrl` up to date with the migration folders, creating the
 * database first when it does not exist. Safe to call concurrently: callers serialize on
 * Prisma's advisory lock and later ones find nothing left to do.
 */
export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const client = await connectCreatingDatabase(databaseUrl);
  try {
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await client.query<AppliedRow>(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at`,
    );
    const pending = pendingMigrations(migrations, rows, options.logger);
    const applied: string[] = [];
    for (const m of pending) {
      await applyOne(client, m);
      options.logger?.info({ migration: m.name }, "applied migration");
      applied.push(m.name);
    }
    return { applied };
  } finally {
    // Ending the session releases the advisory lock too.
    await client.end();
  }
}

function pendingMigrations(
  migrations: readonly MigrationFolder[],
  rows: readonly AppliedRow[],
  logger: MigrateLogger | undefined,
): MigrationFolder[] {
  const live = rows.filter((r) => r.rolled_back_at === null);
  const failed = live.find((r) => r.finished_at === null);
  if (failed) {
    throw new MigrationStateError(
      `migration ${failed.migration_name} started but did not finish (a failed \`prisma migrate deploy\`?). ` +
        `Repair the database, then mark it with \`prisma migrate resolve --applied|--rolled-back ${failed.migration_name}\`.`,
      failed.migration_name,
    );
  }
  const appliedByName = new Map(live.map((r) => [r.migration_name, r]));
  const local = new Set(migrations.map((m) => m.name));
  for (const r of live) {
    if (!local.has(r.migration_name)) {
      logger?.warn({ migration: r.migration_name }, "migration applied to the database is missing from the migrations folder");
    }
  }
  const pending: MigrationFolder[] = [];
  for (const m of migrations) {
    const row = appliedByName.get(m.name);
    if (!row) {
      pending.push(m);
    } else if (row.checksum !== m.checksum) {
      throw new MigrationStateError(
        `migration ${m.name} was modified after it was applied: the database recorded checksum ${row.checksum}, ` +
          `migration.sql now hashes to ${m.checksum}. Restore the applied file and put the change in a new migration ` +
          `(bash infra/scripts/prisma-diff.sh <name>).`,
        m.name,
      );
    }
  }
  return pending;
}

async function applyOne(client: pg.Client, m: MigrationFolder): Promise<void> {
  const id = randomUUID();
  await client.query("BEGIN");
  try {
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, clock_timestamp(), 0)`,
      [id, m.checksum, m.name],
    );
    // No parameters: pg uses the simple-query protocol, which runs a multi-statement script.
    await client.query(m.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw new Error(`migration ${m.name} failed and was rolled back: ${(err as Error).message}`, { cause: err });
  }
}

async function connectCreatingDatabase(databaseUrl: string): Promise<pg.Client> {
  try {
    return await connect(databaseUrl);
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000") throw err; // invalid_catalog_name: no such database
  }
  const name = databaseName(databaseUrl);
  const admin = await connect(withDatabase(databaseUrl, "postgres"));
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } catch (err) {
    // Another migrator created it between our two connections: 42P04 duplicate_database, or
    // 23505 on pg_database_datname_index when both CREATE DATABASE statements ran at once.
    const code = (err as { code?: string }).code;
    if (code !== "42P04" && code !== "23505") throw err;
  } finally {
    await admin.end();
  }
  return connect(databaseUrl);
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    if ((err as { code?: string }).code === "3D000") throw err;
    throw new Error(`cannot connect to PostgreSQL at ${redact(url)}: ${(err as Error).message}`, { cause: err });
  }
  return client;
}
