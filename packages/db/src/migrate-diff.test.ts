import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { diffMigrationsToSchema, migrationTimestamp } from "./migrate-diff.js";
import { DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA_PATH } from "./migrations-dir.js";

const databaseUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("diffMigrationsToSchema", () => {
  it("finds nothing to do: the committed migrations produce prisma/schema.prisma", async () => {
    expect(await diffMigrationsToSchema({ databaseUrl })).toBeNull();
  });

  it("writes the SQL for a schema change, after which there is nothing left to do", async () => {
    const work = await mkdtemp(join(tmpdir(), "tokenmill-diff-"));
    dirs.push(work);
    const migrationsDir = join(work, "migrations");
    await cp(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true });
    const schemaPath = join(work, "schema.prisma");
    const schema = await readFile(DEFAULT_SCHEMA_PATH, "utf8");
    await writeFile(schemaPath, `${schema}\nmodel Probe {\n  id Int @id\n  label String?\n  @@map("probes")\n}\n`);

    const sql = await diffMigrationsToSchema({ databaseUrl, migrationsDir, schemaPath });
    expect(sql).toMatch(/CREATE TABLE "probes"/);
    expect(sql).not.toMatch(/CREATE TABLE "sources"/);

    await mkdir(join(migrationsDir, "29990101000000_probe"));
    await writeFile(join(migrationsDir, "29990101000000_probe", "migration.sql"), sql!);
    expect(await diffMigrationsToSchema({ databaseUrl, migrationsDir, schemaPath })).toBeNull();
  });

  it("stamps folders like Prisma", () => {
    expect(migrationTimestamp(new Date("2026-01-02T03:04:05.678Z"))).toBe("20260102030405");
  });
});
