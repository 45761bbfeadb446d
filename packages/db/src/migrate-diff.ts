// Creates prisma/migrations/<timestamp>_<name>/migration.sql from the difference between the
// existing migrations and prisma/schema.prisma — what `prisma migrate dev --create-only` does,
// but offline: the existing migrations are replayed into a temporary shadow database by the
// WebAssembly schema engine, which then diffs that database against the schema.
//
//   npx tsx packages/db/src/migrate-diff.ts [name]      (name defaults to "migration")
//
// DATABASE_URL names the PostgreSQL server to create the shadow database on (its database part
// is ignored; default postgresql://postgres@127.0.0.1:5432). Prints "no changes" when the
// migrations already produce the schema.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import {
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_SCHEMA_PATH,
  MIGRATION_LOCK_CONTENT,
  MIGRATION_LOCK_FILE,
  readMigrations,
} from "./migrations-dir.js";
import { withDatabase } from "./pg-url.js";
import { NO_FILTERS, openSchemaEngine, type DiffParams } from "./schema-engine.js";

export interface DiffOptions {
  /** Server to create the shadow database on. */
  databaseUrl: string;
  migrationsDir?: string;
  schemaPath?: string;
}

/** SQL taking the migrations folder to the schema, or null when there is nothing to do. */
export async function diffMigrationsToSchema(options: DiffOptions): Promise<string | null> {
  const migrationsDir = options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  const schema = await readFile(options.schemaPath ?? DEFAULT_SCHEMA_PATH, "utf8");
  const migrations = await readMigrations(migrationsDir);
  const lockPath = join(migrationsDir, MIGRATION_LOCK_FILE);
  const from: DiffParams["from"] =
    migrations.length === 0
      ? { tag: "empty" }
      : {
          tag: "migrations",
          baseDir: migrationsDir,
          lockfile: { path: MIGRATION_LOCK_FILE, content: existsSync(lockPath) ? await readFile(lockPath, "utf8") : null },
          shadowDbInitScript: "",
          migrationDirectories: migrations.map((m) => ({
            path: m.name,
            migrationFile: { path: "migration.sql", content: { tag: "ok", value: m.sql } },
          })),
        };
  const engine = await openSchemaEngine(withDatabase(options.databaseUrl, "postgres"), schema);
  try {
    const result = await engine.diff({
      from,
      to: { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: schema }] },
      script: true,
      exitCode: true, // exitCode 2 = the two sides differ
      filters: NO_FILTERS,
    });
    return result.exitCode === 2 && result.stdout ? result.stdout : null;
  } finally {
    engine.free();
  }
}

/** Prisma's folder timestamp: UTC YYYYMMDDHHMMSS. */
export function migrationTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

async function main(): Promise<void> {
  const { positionals } = parseArgs({ allowPositionals: true });
  const name = (positionals[0] ?? "migration").replace(/[^A-Za-z0-9_]+/g, "_");
  const databaseUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const sql = await diffMigrationsToSchema({ databaseUrl });
  if (sql === null) {
    console.log("no changes");
    return;
  }
  const dir = join(DEFAULT_MIGRATIONS_DIR, `${migrationTimestamp()}_${name}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "migration.sql"), sql);
  const lockPath = join(DEFAULT_MIGRATIONS_DIR, MIGRATION_LOCK_FILE);
  if (!existsSync(lockPath)) await writeFile(lockPath, MIGRATION_LOCK_CONTENT);
  console.log(`created ${relative(process.cwd(), join(dir, "migration.sql"))}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
