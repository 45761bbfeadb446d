// A fresh PostgreSQL database per test file, cloned from a template that holds the migrated
// schema. Migrating once and cloning (CREATE DATABASE ... TEMPLATE) takes tens of milliseconds
// per file instead of replaying every migration.
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import pg from "pg";
import {
  createPrisma,
  migrate,
  migrationsFingerprint,
  quoteIdent,
  readMigrations,
  withDatabase,
  type PrismaClient,
} from "@tokenmill/db";

/** Prefix of every database createTestDatabase makes: `tokenmill_test_<run>_<random>`. */
export const TEST_DATABASE_PREFIX = "tokenmill_test_";
/** Prefix of template databases: `tokenmill_template_<hash of the migrations>`. */
export const TEMPLATE_DATABASE_PREFIX = "tokenmill_template_";

// Serializes template builds across vitest workers and concurrent runs on one server.
const TEMPLATE_LOCK_KEY = 0x746d_7470; // "tmtp"

export interface TestDatabase {
  /** postgresql:// URL of the new database. */
  url: string;
  name: string;
  /** A client for `url`; drop() disconnects it. */
  prisma: PrismaClient;
  /** Disconnects `prisma` and drops the database, ending any other sessions on it. */
  drop(): Promise<void>;
}

/**
 * The PostgreSQL server tests use: TEST_DATABASE_URL, else DATABASE_URL, else the local
 * server; the database part of the URL is ignored.
 */
export function testServerUrl(): string {
  return process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
}

/**
 * Identifies one test run so its databases can be dropped together: `<pid>x<host tag>`. The vitest
 * global setup puts one in TOKENMILL_TEST_RUN for its workers; otherwise each process is a run.
 */
export function testRunId(): string {
  return process.env.TOKENMILL_TEST_RUN ?? newTestRunId();
}

export function newTestRunId(pid: number = process.pid): string {
  return `${pid}x${hostTag()}`;
}

// Several machines (or containers) may share one PostgreSQL server: a pid means something only on its own host.
function hostTag(): string {
  return createHash("sha256").update(hostname()).digest("hex").slice(0, 6);
}

async function adminClient(serverUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  await client.connect();
  return client;
}

/**
 * Creates (once per set of migrations) and returns the name of the template database holding
 * the migrated schema. A template is complete once it is marked `datistemplate`; a half-built
 * one left by a crashed run is dropped and rebuilt.
 */
export async function ensureTemplateDatabase(serverUrl: string = testServerUrl()): Promise<string> {
  const name = TEMPLATE_DATABASE_PREFIX + migrationsFingerprint(await readMigrations()).slice(0, 16);
  const admin = await adminClient(serverUrl);
  try {
    const ready = async () =>
      (await admin.query("SELECT datistemplate FROM pg_database WHERE datname = $1", [name])).rows[0] as
        | { datistemplate: boolean }
        | undefined;
    if ((await ready())?.datistemplate) return name;
    await admin.query("SELECT pg_advisory_lock($1)", [TEMPLATE_LOCK_KEY]);
    try {
      const row = await ready();
      if (row?.datistemplate) return name;
      if (row) await admin.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
      await migrate(withDatabase(serverUrl, name));
      // No connections to a template: CREATE DATABASE ... TEMPLATE fails while anyone is connected.
      await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
      return name;
    } finally {
      await admin.query("SELECT pg_advisory_unlock($1)", [TEMPLATE_LOCK_KEY]);
    }
  } finally {
    await admin.end();
  }
}

/** A new, migrated, empty database of its own. Call `drop()` in afterAll. */
export async function createTestDatabase(serverUrl: string = testServerUrl()): Promise<TestDatabase> {
  const template = await ensureTemplateDatabase(serverUrl);
  const name = `${TEST_DATABASE_PREFIX}${testRunId()}_${randomBytes(6).toString("hex")}`;
  const admin = await adminClient(serverUrl);
  try {
    await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  const prisma = createPrisma(url);
  let dropped = false;
  return {
    url,
    name,
    prisma,
    async drop() {
      if (dropped) return;
      dropped = true;
      await prisma.$disconnect();
      await dropDatabases(serverUrl, [name]);
    },
  };
}

async function dropDatabases(serverUrl: string, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const admin = await adminClient(serverUrl);
  try {
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Drops the test databases of run `runId`, and those of earlier runs on this machine whose
 * process is gone (a crashed or interrupted vitest). Databases of live runs are left alone.
 */
export async function dropTestDatabases(runId: string = testRunId(), serverUrl: string = testServerUrl()): Promise<void> {
  const admin = await adminClient(serverUrl);
  let names: string[];
  try {
    const { rows } = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
      [TEST_DATABASE_PREFIX],
    );
    names = rows
      .map((r) => r.datname)
      .filter((n) => {
        const run = n.slice(TEST_DATABASE_PREFIX.length).replace(/_[0-9a-f]+$/, "");
        if (run === runId) return true;
        const m = /^(\d+)x([0-9a-f]{6})$/.exec(run);
        return m !== null && m[2] === hostTag() && !processAlive(Number(m[1]));
      });
  } finally {
    await admin.end();
  }
  await dropDatabases(serverUrl, names);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
