import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { sha256Hex } from "@tokenmill/domain";
import { startStack, type Stack } from "../../../../test/support/stack.js";
import { ROLLBACK_WINDOW_MS } from "./recipe-apply.js";

const ROOT = resolve(import.meta.dirname, "../../../..");
let stack: Stack;
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
const post = (url: string, payload: unknown) => stack.app.inject({ method: "POST", url, headers: auth(), payload: payload as object });

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.close());

/** Rows as a curation would leave them: a source, a pipeline, a finished run and its version (with files). */
async function curated(name: string, status: "succeeded" | "running" = "succeeded") {
  const p = stack.prisma;
  const source = await p.source.create({ data: { name, uri: "file:///nowhere" } });
  const pipeline = await p.pipeline.create({ data: { name, version: 1, spec: {}, specHash: `h-${name}` } });
  const prefix = `datasets/${name}/fp-${name}/`;
  await stack.store.put(`${prefix}manifest.json`, "{}");
  const version = await p.datasetVersion.create({
    data: { name, fingerprint: `fp-${name}`, storeUri: stack.store.uri, prefix, tokenizer: "llama3", docs: 1n, tokens: 1n, bytes: 1n, manifest: {} },
  });
  const run = await p.curationRun.create({ data: { sourceId: source.id, pipelineId: pipeline.id, datasetName: name, status, datasetVersionId: version.id } });
  return { source: source.id, pipeline: pipeline.id, version: version.id, run: run.id, prefix };
}

describe("recipe apply support: preflight and rollback", () => {
  it("preflight writes nothing and names what an apply would trip over", async () => {
    const recipe = parseYaml(readFileSync(resolve(ROOT, "recipes/demo.yaml"), "utf8"), { merge: true });
    const sources = [{ name: "demo.web", uri: `file://${resolve(ROOT, "data/samples/c4_redpajama_cc_samples.jsonl.gz")}` }];
    const ok = await post("/experiments/preflight", { name: "demo", recipe, sources });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toEqual({ pipelines: [{ name: "demo-default", id: null }], sources: [{ name: "demo.web", id: null, files: 1 }] });
    const missing = await post("/experiments/preflight", { name: "demo", recipe, sources: [{ name: "demo.web", uri: `file://${resolve(ROOT, "data/no-such-dir/x.jsonl")}` }] });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().field).toBe("body.sources[0].uri");
    // outside the file roots: refused before anything is read, whether it exists or not
    const outside = await post("/experiments/preflight", { name: "demo", recipe, sources: [{ name: "demo.web", uri: "file:///etc/passwd" }] });
    expect(outside.statusCode).toBe(400);
    expect(outside.json().field).toBe("body.sources[0].uri");
    const bad = await post("/experiments/preflight", { name: "demo", recipe: { ...recipe, seed: "x" }, sources });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toMatch(/^body\.recipe/);
    expect(await stack.prisma.source.count()).toBe(0);
    expect(await stack.prisma.pipeline.count()).toBe(0);
  });

  it("preflight reuses a source only over the same URI; another URI gets a name of its own, stable across applies", async () => {
    const recipe = parseYaml(readFileSync(resolve(ROOT, "recipes/demo.yaml"), "utf8"), { merge: true });
    const uri = `file://${resolve(ROOT, "data/samples/c4_redpajama_cc_samples.jsonl.gz")}`;
    const check = async () => {
      const res = await post("/experiments/preflight", { name: "reuse", recipe, sources: [{ name: "reuse.web", uri }] });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().sources[0];
    };
    const same = await stack.prisma.source.create({ data: { name: "reuse.web", uri } });
    expect(await check()).toEqual({ name: "reuse.web", id: same.id, files: 0 });
    // The same name over other data (the recipe applied from another checkout): never reused.
    await stack.prisma.source.update({ where: { id: same.id }, data: { uri: "file:///elsewhere/web.jsonl.gz" } });
    const alias = `reuse.web.${sha256Hex(uri).slice(0, 8)}`;
    expect(await check()).toEqual({ name: alias, id: null, files: 1 });
    const registered = await post("/sources", { name: alias, uri });
    expect(registered.statusCode, registered.body).toBe(201);
    expect(await check()).toEqual({ name: alias, id: registered.json().id, files: 0 });
    // Both names taken by other data: a conflict that says so, not a guess.
    await stack.prisma.source.update({ where: { id: registered.json().id }, data: { uri: "file:///third/web.jsonl.gz" } });
    const conflict = await post("/experiments/preflight", { name: "reuse", recipe, sources: [{ name: "reuse.web", uri }] });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().message).toBe(`sources named reuse.web and ${alias} exist over other data than ${uri}`);
  });

  it("rollback deletes what nothing else uses and keeps, with the reason, what is shared or still running", async () => {
    const mine = await curated("mine");
    const shared = await curated("shared");
    // Another run (not part of the apply) uses the shared source, pipeline and version.
    await stack.prisma.curationRun.create({ data: { sourceId: shared.source, pipelineId: shared.pipeline, datasetName: "shared", status: "succeeded", datasetVersionId: shared.version, reusedVersion: true } });
    const busy = await curated("busy", "running");
    const res = await post("/experiments/rollback", {
      pipelines: [mine.pipeline, shared.pipeline],
      sources: [mine.source, shared.source],
      curation_runs: [mine.run, shared.run, busy.run],
    });
    expect(res.statusCode, res.body).toBe(200);
    const r = res.json();
    expect(r.deleted).toEqual({ curation_runs: 2, dataset_versions: 1, sources: 1, pipelines: 1, objects: 1 });
    expect(r.kept.map((k: any) => [k.kind, k.id]).sort()).toEqual(
      [["curation_run", busy.run], ["dataset_version", shared.version], ["source", shared.source], ["pipeline", shared.pipeline]].sort(),
    );
    const p = stack.prisma;
    expect(await p.source.findUnique({ where: { id: mine.source } })).toBeNull();
    expect(await p.pipeline.findUnique({ where: { id: mine.pipeline } })).toBeNull();
    expect(await p.datasetVersion.findUnique({ where: { id: mine.version } })).toBeNull();
    expect(await stack.store.list(mine.prefix)).toEqual([]);
    expect(await p.datasetVersion.findUnique({ where: { id: shared.version } })).not.toBeNull();
    expect((await stack.store.list(shared.prefix)).length).toBe(1);
    expect(await p.curationRun.findUnique({ where: { id: busy.run } })).not.toBeNull();
  });

  it("rollback keeps what was created before its window, even when named and unused", async () => {
    const old = await curated("old");
    const before = new Date(Date.now() - ROLLBACK_WINDOW_MS - 60_000);
    const p = stack.prisma;
    await p.curationRun.update({ where: { id: old.run }, data: { createdAt: before } });
    await p.source.update({ where: { id: old.source }, data: { createdAt: before } });
    await p.pipeline.update({ where: { id: old.pipeline }, data: { createdAt: before } });
    const res = await post("/experiments/rollback", { pipelines: [old.pipeline], sources: [old.source], curation_runs: [old.run] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().deleted).toEqual({ curation_runs: 0, dataset_versions: 0, sources: 0, pipelines: 0, objects: 0 });
    expect(res.json().kept.map((k: any) => k.kind).sort()).toEqual(["curation_run", "pipeline", "source"]);
    expect(await p.datasetVersion.findUnique({ where: { id: old.version } })).not.toBeNull();
    expect((await stack.store.list(old.prefix)).length).toBe(1);
  });
});
