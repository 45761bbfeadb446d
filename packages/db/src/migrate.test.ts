import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { migrate, MigrationStateError } from "./migrate.js";
import { DEFAULT_MIGRATIONS_DIR, readMigrations } from "./migrations-dir.js";
import { quoteIdent, withDatabase } from "./pg-url.js";
import { NO_FILTERS, openSchemaEngine } from "./schema-engine.js";

const server = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const created: string[] = [];
const tempDirs: string[] = [];

// Named like testkit's databases so the vitest global teardown also drops them after a crash.
function freshUrl(): string {
  const name = `tokenmill_test_${process.env.TOKENMILL_TEST_RUN ?? `${process.pid}x000000`}_${randomBytes(6).toString("hex")}`;
  created.push(name);
  return withDatabase(server, name);
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function tempMigrations(migrations: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "tokenmill-migrations-"));
  tempDirs.push(dir);
  for (const [name, sql] of Object.entries(migrations)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

afterAll(async () => {
  const admin = new pg.Client({ connectionString: withDatabase(server, "postgres") });
  await admin.connect();
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  await admin.end();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

interface Row {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  logs: string | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
}

describe("migrate", () => {
  it("creates a missing database, applies every migration and records it as Prisma does", async () => {
    const url = freshUrl();
    const local = await readMigrations();
    expect(local.length).toBeGreaterThan(0);

    const { applied } = await migrate(url);

    expect(applied).toEqual(local.map((m) => m.name));
    const rows = await query<Row>(url, `SELECT * FROM "_prisma_migrations" ORDER BY migration_name`);
    expect(rows).toHaveLength(local.length);
    for (const [i, m] of local.entries()) {
      const file = await readFile(join(DEFAULT_MIGRATIONS_DIR, m.name, "migration.sql"));
      expect(rows[i]).toMatchObject({
        migration_name: m.name,
        checksum: createHash("sha256").update(file).digest("hex"),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
      });
      expect(rows[i]!.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(rows[i]!.finished_at).toBeInstanceOf(Date);
    }
    const tables = await query<{ tablename: string }>(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    expect(tables.map((t) => t.tablename)).toEqual(expect.arrayContaining(["sources", "curation_runs", "shards"]));
  });

  it("does nothing the second time", async () => {
    const url = freshUrl();
    await migrate(url);
    const before = await query(url, `SELECT id, finished_at FROM "_prisma_migrations" ORDER BY id`);

    expect(await migrate(url)).toEqual({ applied: [] });
    expect(await query(url, `SELECT id, finished_at FROM "_prisma_migrations" ORDER BY id`)).toEqual(before);
  });

  it("is seen as fully applied by Prisma's own schema engine", async () => {
    const url = freshUrl();
    await migrate(url);
    const local = await readMigrations();
    const schema = await readFile(new URL("../../../prisma/schema.prisma", import.meta.url), "utf8");
    const engine = (await openSchemaEngine(url, schema)) as unknown as {
      applyMigrations(input: unknown): Promise<{ appliedMigrationNames: string[] }>;
      free(): void;
    };
    try {
      const lock = await readFile(join(DEFAULT_MIGRATIONS_DIR, "migration_lock.toml"), "utf8");
      const result = await engine.applyMigrations({
        migrationsList: {
          baseDir: DEFAULT_MIGRATIONS_DIR,
          lockfile: { path: "migration_lock.toml", content: lock },
          shadowDbInitScript: "",
          migrationDirectories: local.map((m) => ({
            path: m.name,
            migrationFile: { path: "migration.sql", content: { tag: "ok", value: m.sql } },
          })),
        },
        filters: NO_FILTERS,
      });
      // `prisma migrate deploy` runs this same engine call: nothing pending means it agrees.
      expect(result.appliedMigrationNames).toEqual([]);
    } finally {
      engine.free();
    }
  });

  it("refuses when an applied migration's file changed", async () => {
    const url = freshUrl();
    const dir = await tempMigrations({ "20250101000000_a": "CREATE TABLE a (id int);" });
    await migrate(url, { migrationsDir: dir });
    await writeFile(join(dir, "20250101000000_a", "migration.sql"), "CREATE TABLE a (id bigint);");

    const err = await migrate(url, { migrationsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationStateError);
    expect((err as MigrationStateError).migration).toBe("20250101000000_a");
    expect((err as Error).message).toMatch(/20250101000000_a was modified after it was applied/);
  });

  it("refuses when the recorded checksum differs from the file", async () => {
    const url = freshUrl();
    await migrate(url);
    await query(url, `UPDATE "_prisma_migrations" SET checksum = repeat('0', 64)`);
    await expect(migrate(url)).rejects.toThrow(/was modified after it was applied: the database recorded checksum 0{64}/);
  });

  it("applies only new migrations, in name order", async () => {
    const url = freshUrl();
    const dir = await tempMigrations({ "20250101000000_a": "CREATE TABLE a (id int);" });
    expect((await migrate(url, { migrationsDir: dir })).applied).toEqual(["20250101000000_a"]);
    await mkdir(join(dir, "20250103000000_c"));
    await writeFile(join(dir, "20250103000000_c", "migration.sql"), "ALTER TABLE b ADD COLUMN c int;");
    await mkdir(join(dir, "20250102000000_b"));
    await writeFile(join(dir, "20250102000000_b", "migration.sql"), "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);");

    expect((await migrate(url, { migrationsDir: dir })).applied).toEqual(["20250102000000_b", "20250103000000_c"]);
    expect(await query(url, "SELECT id, c FROM b")).toEqual([{ id: 1, c: null }]);
  });

  it("rolls back a failing migration and records nothing for it", async () => {
    const url = freshUrl();
    const dir = await tempMigrations({
      "20250101000000_a": "CREATE TABLE a (id int);",
      "20250102000000_bad": "CREATE TABLE half (id int);\nSELECT no_such_function();",
    });

    await expect(migrate(url, { migrationsDir: dir })).rejects.toThrow(/migration 20250102000000_bad failed and was rolled back/);
    const rows = await query<{ migration_name: string }>(url, `SELECT migration_name FROM "_prisma_migrations"`);
    expect(rows.map((r) => r.migration_name)).toEqual(["20250101000000_a"]);
    expect(await query(url, "SELECT to_regclass('half') AS t")).toEqual([{ t: null }]);
  });

  it("refuses a migration Prisma left unfinished", async () => {
    const url = freshUrl();
    const dir = await tempMigrations({ "20250101000000_a": "CREATE TABLE a (id int);" });
    await migrate(url, { migrationsDir: dir });
    await query(url, `UPDATE "_prisma_migrations" SET finished_at = NULL`);
    await expect(migrate(url, { migrationsDir: dir })).rejects.toThrow(/started but did not finish/);
  });

  it("serializes concurrent callers on one fresh database", async () => {
    const url = freshUrl();
    const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);
    const local = await readMigrations();
    expect(results.flatMap((r) => r.applied).sort()).toEqual(local.map((m) => m.name).sort());
    const rows = await query(url, `SELECT 1 FROM "_prisma_migrations"`);
    expect(rows).toHaveLength(local.length);
  });
});
