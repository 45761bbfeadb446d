import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startStack, type Stack } from "../support/stack.js";

const ROOT = resolve(import.meta.dirname, "../..");

let stack: Stack;
let url: string;
let tmp: string;

/** Runs the real `tokenmill` binary; resolves with exit code and output instead of throwing. */
const tm = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { env: { TOKENMILL_URL: url, TOKENMILL_TOKEN: stack.admin, TOKENMILL_CONFIG_DIR: join(tmp, "config"), ...env } });

beforeAll(async () => {
  stack = await startStack({ worker: true });
  // Fastify resolves listen() with the address it bound, e.g. http://127.0.0.1:43123.
  url = await stack.app.listen({ host: "127.0.0.1", port: 0 });
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-cli-"));
});
afterAll(async () => {
  await stack?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("tokenmill CLI over the REST API", () => {
  it("registers a source, defines a pipeline, runs it with progress and prints the funnel and shards", async () => {
    const src = await tm(["sources", "add", "samples", `file://${join(ROOT, "data/samples")}`]);
    expect(src.code, src.stderr).toBe(0);
    expect(src.stdout).toMatch(/source samples \(.*\): 4 file\(s\)/);
    const p = await tm(["pipelines", "create", join(ROOT, "examples/pipelines/sample.yaml")]);
    expect(p.stdout).toContain("pipeline sample@1");
    const r = await tm(["curate", "run", "--source", "samples", "--pipeline", "sample"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/succeeded 100%/); // non-TTY progress lines
    expect(r.stdout).toMatch(/run .*: succeeded/);
    expect(r.stdout).toMatch(/length\s+410\s+407\s+3\s+length:too_few_words=3/);
    expect(r.stdout).toMatch(/dataset version .*: 4 shard\(s\) at file:\/\//);

    const list = JSON.parse((await tm(["--json", "datasets", "list"])).stdout);
    expect(list.items).toHaveLength(1);
    const shards = JSON.parse((await tm(["--json", "datasets", "shards", list.items[0].id])).stdout);
    expect(shards.items).toHaveLength(4);
    const manifest = JSON.parse((await tm(["datasets", "manifest", list.items[0].id])).stdout);
    expect(manifest.totals.rows).toBe(407);
    expect((await tm(["datasets", "stats", list.items[0].id])).stdout).toContain("length:too_few_words=3");
    const runs = JSON.parse((await tm(["--json", "curate", "list"])).stdout);
    expect(runs.items[0].status).toBe("succeeded");
  });

  it("takes names wherever it takes ids, and names the argument when a name matches nothing", async () => {
    const version = JSON.parse((await tm(["--json", "datasets", "list"])).stdout).items[0];
    expect(JSON.parse((await tm(["datasets", "get", "samples"])).stdout).id).toBe(version.id);
    expect(JSON.parse((await tm(["datasets", "get", `samples@${version.fingerprint.slice(0, 8)}`])).stdout).id).toBe(version.id);
    expect(JSON.parse((await tm(["--json", "datasets", "shards", "samples"])).stdout).items).toHaveLength(4);
    expect(JSON.parse((await tm(["sources", "get", "samples"])).stdout).name).toBe("samples");
    expect(JSON.parse((await tm(["pipelines", "get", "sample"])).stdout).version).toBe(1);
    expect(JSON.parse((await tm(["pipelines", "get", "sample@1"])).stdout).name).toBe("sample");
    const missing = await tm(["sources", "get", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('<source>: no source with id or name "nope"');
    const noVersion = await tm(["pipelines", "get", "sample@7"]);
    expect(noVersion.stderr).toContain('<pipeline>: no pipeline with id or name "sample@7"');
  });

  it("prints the API's error and exits 1", async () => {
    const runs = JSON.parse((await tm(["--json", "curate", "list"])).stdout);
    const cancel = await tm(["curate", "cancel", runs.items[0].id]);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toMatch(/error: run .* is already succeeded \(HTTP 409, field params\.id\)/);
    const badPipeline = join(tmp, "bad.yaml");
    await writeFile(badPipeline, "version: 1\nname: bad\nsteps:\n  - step: length\n    min_chars: -1\n  - step: tokenize\n");
    const bad = await tm(["pipelines", "create", badPipeline]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("steps[0].min_chars");
    const noAuth = await tm(["sources", "list"], { TOKENMILL_TOKEN: "tm_wrong" });
    expect(noAuth.stderr).toMatch(/invalid or revoked token \(HTTP 401, field headers\.authorization\)/);
    const down = await tm(["sources", "list"], { TOKENMILL_URL: "http://127.0.0.1:9" });
    expect(down.stderr).toMatch(/cannot reach the tokenmill API at http:\/\/127\.0\.0\.1:9/);
  });

  it("saves a token with login and creates scoped tokens", async () => {
    const created = JSON.parse((await tm(["--json", "tokens", "create", "--name", "reader", "--scopes", "read"])).stdout);
    expect(created.scopes).toEqual(["read"]);
    expect((await tm(["login", created.token], { TOKENMILL_TOKEN: "" })).stdout).toContain("token saved");
    expect((await tm(["sources", "list"], { TOKENMILL_TOKEN: "" })).code).toBe(0);
    const denied = await tm(["sources", "add", "x", `file://${ROOT}/data/samples`], { TOKENMILL_TOKEN: "" });
    expect(denied.stderr).toContain('lacks the "write" scope');
  });

  it("admin bootstrap prints a working admin token once and refuses a second time", async () => {
    const first = await tm(["admin", "bootstrap", "--database-url", stack.databaseUrl, "--force"]);
    expect(first.code, first.stderr).toBe(0);
    const token = first.stdout.trim();
    expect(token).toMatch(/^tm_/);
    expect((await tm(["tokens", "list"], { TOKENMILL_TOKEN: token })).code).toBe(0);
    const again = await tm(["admin", "bootstrap", "--database-url", stack.databaseUrl]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("an admin token already exists");
  });
});

describe("tokenmill curate local", () => {
  it("writes the dataset-version layout without any service", async () => {
    const out = join(tmp, "local");
    const r = await tm(["curate", "local", "--input", join(ROOT, "data/samples"), "--out", out, "--pipeline", join(ROOT, "examples/pipelines/sample.yaml")], {
      DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none",
      REDIS_URL: "redis://127.0.0.1:1",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("documents: 410 in, 407 kept");
    const files = (await readdir(out)).sort();
    expect(files).toEqual(["dropped", "manifest.json", "shard-00000-0000.arrow", "shard-00001-0000.arrow", "shard-00002-0000.arrow", "shard-00003-0000.arrow", "stats.json"]);
    expect((await readdir(join(out, "dropped"))).length).toBe(4);
    const missing = await tm(["curate", "local", "--input", join(tmp, "nope.jsonl"), "--out", out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.jsonl is unreachable/);
  });
});
