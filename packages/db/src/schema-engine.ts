// Loads Prisma's schema engine compiled to WebAssembly. The CLI's native schema-engine binary is
// downloaded on first use, which fails on machines without internet; the wasm build ships inside
// the npm package and talks to PostgreSQL through a driver adapter, so diffs work offline.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as bg from "@prisma/schema-engine-wasm/schema_engine_bg";
import type { DiffParams, DiffResult, MigrationList } from "@prisma/schema-engine-wasm";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";

export interface SchemaEngine {
  diff(params: DiffParams): Promise<DiffResult>;
  free(): void;
}

// The project compiles without the DOM lib, where TypeScript declares WebAssembly.
const wasmApi = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
    };
  }
).WebAssembly;

let initialized: Promise<void> | undefined;

function initWasm(): Promise<void> {
  initialized ??= (async () => {
    const wasmPath = fileURLToPath(new URL("schema_engine_bg.wasm", import.meta.resolve("@prisma/schema-engine-wasm/schema_engine_bg")));
    const { instance } = await wasmApi.instantiate(await readFile(wasmPath), {
      "./schema_engine_bg.js": bg as unknown as Record<string, unknown>,
    });
    (bg as unknown as { __wbg_set_wasm(exports: unknown): void }).__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start(): void }).__wbindgen_start();
  })();
  return initialized;
}

/**
 * A schema engine connected to `databaseUrl`. Diffs against the `migrations` target replay them in
 * a temporary shadow database that the pg adapter creates next to `databaseUrl` and drops afterwards.
 */
export async function openSchemaEngine(databaseUrl: string, schema: string): Promise<SchemaEngine> {
  await initWasm();
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg(poolConfig(databaseUrl)));
  return (await bg.SchemaEngine.new({ datamodels: [["schema.prisma", schema]] }, () => {}, adapter)) as SchemaEngine;
}

export const NO_FILTERS: { externalTables: string[]; externalEnums: string[] } = { externalTables: [], externalEnums: [] };

export type { DiffParams, DiffResult, MigrationList };

// The engine describes a database through catalog queries that return columns of PostgreSQL's
// one-byte "char" type (pg_class.relkind, pg_constraint.contype, ...). @prisma/adapter-pg 7.10
// has no column type for OID 18 and the diff fails with "Column type 'char' could not be
// deserialized from the database". Its values arrive as strings already, so we relabel those
// columns as text before the adapter looks at them.
const PG_CHAR = 18;
const PG_CHAR_ARRAY = 1002;
const PG_TEXT = 25;
const PG_TEXT_ARRAY = 1009;

function relabelCharColumns(result: unknown): void {
  for (const r of Array.isArray(result) ? result : [result]) {
    for (const f of (r as pg.QueryResult | undefined)?.fields ?? []) {
      if (f.dataTypeID === PG_CHAR) f.dataTypeID = PG_TEXT;
      else if (f.dataTypeID === PG_CHAR_ARRAY) f.dataTypeID = PG_TEXT_ARRAY;
    }
  }
}

class CharAsTextClient extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const last = args.at(-1);
    if (typeof last === "function") {
      args[args.length - 1] = (err: Error | null, res: unknown) => {
        if (!err) relabelCharColumns(res);
        last(err, res);
      };
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const out = (super.query as (...a: unknown[]) => unknown)(...args);
    return out instanceof Promise ? out.then((res) => (relabelCharColumns(res), res)) : out;
  }
}

// Discrete fields, not connectionString: the adapter opens its shadow database with
// `new Pool({ ...config, database })`, and pg lets a connectionString override `database`.
function poolConfig(databaseUrl: string): pg.PoolConfig {
  const u = new URL(databaseUrl);
  return {
    host: decodeURIComponent(u.hostname).replace(/^\[|\]$/g, ""),
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username) || undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: decodeURIComponent(u.pathname.slice(1)) || undefined,
    Client: CharAsTextClient,
    allowExitOnIdle: true,
  };
}
