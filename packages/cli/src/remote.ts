import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import type { Client } from "./client.js";
import { bytes, funnel, table } from "./format.js";
import { saveToken } from "./credentials.js";
import { watchRun, printRunSummary } from "./watch.js";
import { resolveId } from "./resolve.js";

type Ctx = () => Client;
type Json = () => boolean;
const out = (v: unknown): void => void process.stdout.write(`${typeof v === "string" ? v : JSON.stringify(v, null, 2)}\n`);

export function registerRemoteCommands(program: Command, client: Ctx, json: Json): void {
  program
    .command("login [token]")
    .description("save an API token for later commands, after checking it against the API (reads stdin when no token is given)")
    .action(async (token?: string) => {
      const value = (token ?? (await readStdin())).trim();
      if (!value) throw new Error("no token given (pass it as an argument or on stdin)");
      const c = client();
      c.opts.token = value;
      await c.get("/sources?limit=1");
      out(`token saved to ${saveToken(value)}`);
    });

  const sources = program.command("sources").description("datasets registered from file://, s3:// or http(s):// URIs");
  sources
    .command("add <name> <uri>")
    .description("register a source (a JSONL / JSONL.gz file, folder, glob or prefix); the URI is probed")
    .option("--format <format>", "auto | jsonl | jsonl.gz | jsonl.zst | parquet | arrow", "auto")
    .option("--text-field <field>", "field holding the document text", "text")
    .option("--id-field <field>", "field holding the document id", "id")
    .action(async (name: string, uri: string, o: { format: string; textField: string; idField: string }) => {
      const s = await client().post("/sources", { name, uri, format: o.format, text_field: o.textField, id_field: o.idField });
      json() ? out(s) : out(`source ${s.name} (${s.id}): ${s.files} file(s), ${bytes(s.bytes)}`);
    });
  sources
    .command("list")
    .description("list sources")
    .action(async () => {
      const r = await client().get("/sources?limit=500");
      json() ? out(r) : out(table(["id", "name", "uri", "format"], r.items.map((s: any) => [s.id, s.name, s.uri, s.format])));
    });
  sources.command("get <source>").description("show one source (id or name)").action(async (ref: string) => {
    const c = client();
    out(await c.get(`/sources/${await resolveId(c, "source", ref, "<source>")}`));
  });

  const pipelines = program.command("pipelines").description("declarative curation pipelines (YAML or JSON files)");
  pipelines
    .command("create <file>")
    .description("define a pipeline from a file; the same definition twice returns the existing version")
    .action(async (file: string) => {
      const doc = parseYaml(readFileSync(file, "utf8"));
      const p = await client().post("/pipelines", doc);
      json() ? out(p) : out(`pipeline ${p.name}@${p.version} (${p.id}): ${p.spec.steps.map((s: any) => s.step).join(" → ")}`);
    });
  pipelines
    .command("list")
    .description("list pipelines")
    .action(async () => {
      const r = await client().get("/pipelines?limit=500");
      json()
        ? out(r)
        : out(table(["id", "name", "version", "steps"], r.items.map((p: any) => [p.id, p.name, p.version, p.spec.steps.map((s: any) => s.step).join(" → ")])));
    });
  pipelines
    .command("get <pipeline>")
    .description("show one pipeline with defaults filled in (id, name or name@version)")
    .action(async (ref: string) => {
      const c = client();
      out(await c.get(`/pipelines/${await resolveId(c, "pipeline", ref, "<pipeline>")}`));
    });
  pipelines.command("steps").description("the step catalog with parameters and defaults").action(async () => out(await client().get("/pipelines/steps")));

  const runs = group(program, "curate", "curation runs: a pipeline over a source into a dataset version");
  runs
    .command("run")
    .description("start a curation run of a pipeline over a source, and follow it with a progress bar")
    .requiredOption("--source <source>", "source id or name")
    .requiredOption("--pipeline <pipeline>", "pipeline id, name or name@version")
    .option("--dataset <name>", "dataset name (default: the source name)")
    .option("--no-wait", "return at once instead of following the run")
    .action(async (o: { source: string; pipeline: string; dataset?: string; wait: boolean }) => {
      const c = client();
      const run = await c.post("/curation-runs", { source: o.source, pipeline: o.pipeline, ...(o.dataset ? { dataset_name: o.dataset } : {}) });
      if (!o.wait) return json() ? out(run) : out(`run ${run.id} ${run.status}`);
      const final = await watchRun(c, run.id, { json: json() });
      if (final.status !== "succeeded") process.exitCode = 1;
    });
  runs
    .command("watch <id>")
    .description("follow a curation run until it ends, with a progress bar")
    .action(async (id: string) => {
      const final = await watchRun(client(), id, { json: json() });
      if (final.status !== "succeeded") process.exitCode = 1;
    });
  runs
    .command("get <id>")
    .description("status, progress, per-step funnel and token totals of a curation run")
    .action(async (id: string) => {
      const r = await client().get(`/curation-runs/${id}`);
      json() ? out(r) : printRunSummary(r);
    });
  runs
    .command("list")
    .description("list curation runs, newest first")
    .option("--limit <n>", "how many", "20")
    .action(async (o: { limit: string }) => {
      const r = await client().get(`/curation-runs?limit=${Number(o.limit)}`);
      json()
        ? out(r)
        : out(
            table(
              ["id", "status", "dataset", "progress", "docs in", "kept", "tokens"],
              r.items.map((x: any) => [x.id, x.status, x.dataset_name, `${Math.round(x.progress.fraction * 100)}%`, x.totals.docs_in, x.totals.docs_kept, x.totals.tokens_kept]),
            ),
          );
    });
  runs
    .command("cancel <id>")
    .description("cancel a curation run")
    .action(async (id: string) => {
      const r = await client().post(`/curation-runs/${id}/cancel`);
      json() ? out(r) : out(`run ${r.id} ${r.status}`);
    });

  const datasets = program.command("datasets").description("immutable dataset versions (Arrow shards + manifest)");
  datasets
    .command("list")
    .description("list dataset versions")
    .option("--name <name>", "only this dataset")
    .action(async (o: { name?: string }) => {
      const r = await client().get(`/dataset-versions?limit=500${o.name ? `&name=${encodeURIComponent(o.name)}` : ""}`);
      json()
        ? out(r)
        : out(table(["id", "name", "fingerprint", "docs", "tokens", "shards", "url"], r.items.map((v: any) => [v.id, v.name, v.fingerprint, v.docs, v.tokens, v.shards, v.url])));
    });
  const version = (c: Client, ref: string) => resolveId(c, "dataset", ref, "<dataset>");
  datasets.command("get <dataset>").description("show one dataset version (id, name for the newest, or name@fingerprint)").action(async (ref: string) => {
    const c = client();
    out(await c.get(`/dataset-versions/${await version(c, ref)}`));
  });
  datasets
    .command("shards <dataset>")
    .description("list a version's shards")
    .action(async (ref: string) => {
      const c = client();
      const r = await c.get(`/dataset-versions/${await version(c, ref)}/shards`);
      json() ? out(r) : out(table(["#", "rows", "tokens", "bytes", "sha256", "url"], r.items.map((s: any) => [s.position, s.rows, s.tokens, s.bytes, s.sha256.slice(0, 16), s.url])));
    });
  datasets.command("manifest <dataset>").description("print a version's manifest.json").action(async (ref: string) => {
    const c = client();
    out(await c.get(`/dataset-versions/${await version(c, ref)}/manifest`));
  });
  datasets
    .command("stats <dataset>")
    .description("print a version's per-step funnel (stats.json)")
    .action(async (ref: string) => {
      const c = client();
      const s = await c.get(`/dataset-versions/${await version(c, ref)}/stats`);
      json() ? out(s) : out(funnel(s.steps));
    });

  const tokens = program.command("tokens").description("API tokens (admin scope)");
  tokens
    .command("create")
    .description("create a token; the secret is printed once")
    .requiredOption("--name <name>", "what the token is for")
    .option("--scopes <scopes>", "comma-separated: read, write, admin", "read")
    .action(async (o: { name: string; scopes: string }) => {
      const t = await client().post("/tokens", { name: o.name, scopes: o.scopes.split(",").map((s) => s.trim()) });
      json() ? out(t) : out(`${t.token}\n(token ${t.id}, scopes ${t.scopes.join(",")}; shown once — store it now)`);
    });
  tokens
    .command("list")
    .description("list tokens")
    .action(async () => {
      const r = await client().get("/tokens");
      json() ? out(r) : out(table(["id", "name", "prefix", "scopes", "revoked"], r.items.map((t: any) => [t.id, t.name, t.prefix, t.scopes.join(","), t.revoked_at ?? "-"])));
    });
  tokens.command("revoke <id>").description("revoke a token").action(async (id: string) => out(await client().delete(`/tokens/${id}`)));
}

/** A command group shared by several registration functions (e.g. `curate`: remote runs and local mode). */
export function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  let data = "";
  for await (const chunk of process.stdin) data += chunk;
  return data;
}
