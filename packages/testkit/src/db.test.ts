import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, ensureTemplateDatabase, testServerUrl, type TestDatabase } from "./db.js";

const opened: TestDatabase[] = [];
afterAll(async () => {
  for (const db of opened) await db.drop();
});

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: testServerUrl() });
  await client.connect();
  try {
    return (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

describe("createTestDatabase", () => {
  it("gives each caller its own migrated, empty database", async () => {
    const [a, b, c] = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
    opened.push(a!, b!, c!);
    expect(new Set([a!.name, b!.name, c!.name]).size).toBe(3);

    await a!.prisma.source.create({ data: { name: "web", uri: "file:///data/web" } });
    expect(await a!.prisma.source.count()).toBe(1);
    expect(await b!.prisma.source.count()).toBe(0);
    expect(await c!.prisma.curationRun.count()).toBe(0);
  });

  it("drops the database, even with other sessions open on it", async () => {
    const db = await createTestDatabase();
    await db.prisma.source.count();
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    other.on("error", () => {}); // terminated by DROP DATABASE ... WITH (FORCE)

    await db.drop();
    expect(await databaseExists(db.name)).toBe(false);
    await other.end().catch(() => {});
  });

  it("builds the template once per set of migrations", async () => {
    const [x, y] = await Promise.all([ensureTemplateDatabase(), ensureTemplateDatabase()]);
    expect(x).toBe(y);
    expect(x).toMatch(/^tokenmill_template_[0-9a-f]{16}$/);
    expect(await databaseExists(x)).toBe(true);
  });
});
