import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { startStack, type Stack } from "../support/stack.js";

const SAMPLES = resolve(import.meta.dirname, "../../data/samples");

let stack: Stack;
let read: string;
let write: string;
const auth = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  stack = await startStack();
  read = await stack.token(["read"]);
  write = await stack.token(["write"]);
});
afterAll(async () => stack?.close());

describe("auth and scopes", () => {
  it("rejects a missing, malformed or unknown token with 401", async () => {
    expect((await stack.app.inject({ method: "GET", url: "/sources" })).statusCode).toBe(401);
    expect((await stack.app.inject({ method: "GET", url: "/sources", headers: { authorization: "Basic abc" } })).statusCode).toBe(401);
    const res = await stack.app.inject({ method: "GET", url: "/sources", headers: auth("tm_notatoken") });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: "unauthorized" });
  });

  it("enforces read < write < admin", async () => {
    expect((await stack.app.inject({ method: "GET", url: "/sources", headers: auth(read) })).statusCode).toBe(200);
    const denied = await stack.app.inject({ method: "POST", url: "/sources", headers: auth(read), payload: { name: "x", uri: `file://${SAMPLES}` } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toContain('"write"');
    expect((await stack.app.inject({ method: "GET", url: "/tokens", headers: auth(write) })).statusCode).toBe(403);
    expect((await stack.app.inject({ method: "GET", url: "/tokens", headers: auth(stack.admin) })).statusCode).toBe(200);
  });

  it("creates tokens once-visible, lists them without secrets, and revocation takes effect", async () => {
    const created = await stack.app.inject({ method: "POST", url: "/tokens", headers: auth(stack.admin), payload: { name: "ci", scopes: ["read"] } });
    expect(created.statusCode).toBe(201);
    const { token, id } = created.json();
    expect(token).toMatch(/^tm_[A-Za-z0-9_-]{43}$/);
    const list = (await stack.app.inject({ method: "GET", url: "/tokens", headers: auth(stack.admin) })).json();
    expect(JSON.stringify(list)).not.toContain(token);
    expect((await stack.app.inject({ method: "GET", url: "/sources", headers: auth(token) })).statusCode).toBe(200);
    expect((await stack.app.inject({ method: "DELETE", url: `/tokens/${id}`, headers: auth(stack.admin) })).statusCode).toBe(200);
    expect((await stack.app.inject({ method: "GET", url: "/sources", headers: auth(token) })).statusCode).toBe(401);
    const bad = await stack.app.inject({ method: "POST", url: "/tokens", headers: auth(stack.admin), payload: { name: "x", scopes: ["root"] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().field).toMatch(/^body\.scopes/);
  });
});

describe("sources", () => {
  it("registers a file:// folder and reports its files", async () => {
    const res = await stack.app.inject({ method: "POST", url: "/sources", headers: auth(write), payload: { name: "samples", uri: `file://${SAMPLES}` } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: "samples", format: "auto", text_field: "text" });
    expect(res.json().files).toBeGreaterThan(0);
    const got = await stack.app.inject({ method: "GET", url: `/sources/${res.json().id}`, headers: auth(read) });
    expect(got.json().uri).toBe(`file://${SAMPLES}`);
    const dup = await stack.app.inject({ method: "POST", url: "/sources", headers: auth(write), payload: { name: "samples", uri: `file://${SAMPLES}` } });
    expect(dup.statusCode).toBe(409);
  });

  it.each([
    [{ name: "a", uri: "ftp://host/x.jsonl" }, "body.uri", 400],
    [{ name: "a", uri: "not a uri" }, "body.uri", 400],
    [{ name: "Bad Name", uri: "file:///tmp" }, "body.name", 400],
    [{ uri: "file:///tmp" }, "body.name", 400],
    [{ name: "a", uri: "file:///nonexistent/dir/x.jsonl" }, "body.uri", 400], // outside the file roots
    [{ name: "a", uri: `file://${tmpdir()}/tokenmill-missing-dir/x.jsonl` }, "body.uri", 422], // inside, missing
    [{ name: "a", uri: "http://127.0.0.1:1/x.jsonl" }, "body.uri", 422],
    [{ name: "a", uri: "file:///tmp", extra: 1 }, "body", 400],
  ])("rejects %j naming %s", async (payload, field, status) => {
    const res = await stack.app.inject({ method: "POST", url: "/sources", headers: auth(write), payload });
    expect(res.statusCode).toBe(status);
    expect(res.json().field ?? "body").toContain(field);
    expect(res.json().message.length).toBeGreaterThan(5);
  });

  it("404s an unknown source, by id or by name, naming params.id", async () => {
    for (const ref of ["00000000-0000-0000-0000-000000000000", "nope"]) {
      const res = await stack.app.inject({ method: "GET", url: `/sources/${ref}`, headers: auth(read) });
      expect([res.statusCode, res.json().field]).toEqual([404, "params.id"]);
    }
  });
});

describe("pipelines", () => {
  const spec = { version: 1, name: "web", steps: [{ step: "normalize" }, { step: "length", min_chars: 20 }, { step: "tokenize" }] };

  it("validates, fills defaults, versions by content", async () => {
    const first = await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(write), payload: spec });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ name: "web", version: 1 });
    expect(first.json().spec.steps[1]).toEqual({ step: "length", min_chars: 20, max_chars: 1_000_000, min_words: 0 });
    const again = await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(write), payload: spec });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const changed = await stack.app.inject({
      method: "POST",
      url: "/pipelines",
      headers: auth(write),
      payload: { ...spec, steps: [{ step: "length", min_chars: 5 }, { step: "tokenize" }] },
    });
    expect(changed.json().version).toBe(2);
    const list = await stack.app.inject({ method: "GET", url: "/pipelines", headers: auth(read) });
    expect(list.json().total).toBe(2);
  });

  it.each([
    [{ ...spec, steps: [{ step: "dedupe" }, { step: "tokenize" }] }, "body.steps[0].step", "unknown step"],
    [{ ...spec, steps: [{ step: "length", min_chars: -3 }, { step: "tokenize" }] }, "body.steps[0].min_chars", "≥ 0"],
    [{ ...spec, steps: [{ step: "length", min_char: 3 }, { step: "tokenize" }] }, "body.steps[0].min_char", "unknown parameter"],
    [{ ...spec, steps: [{ step: "normalize" }] }, "body.steps", "tokenize"],
    [{ ...spec, version: 2 }, "body.version", "unsupported"],
  ])("rejects a bad pipeline naming %s", async (payload, field, message) => {
    const res = await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(write), payload });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe(field);
    expect(res.json().message).toContain(message);
  });
});

describe("curation runs and datasets without a worker", () => {
  it("queues a run, shows it, cancels it once, and refuses a second cancel", async () => {
    const res = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(write), payload: { source: "samples", pipeline: "web@1" } });
    expect(res.statusCode).toBe(202);
    const run = res.json();
    expect(run).toMatchObject({ status: "queued", dataset_name: "samples", source_name: "samples", pipeline_name: "web", pipeline_version: 1 });
    expect(await stack.app.inject({ method: "GET", url: `/curation-runs/${run.id}`, headers: auth(read) }).then((r) => r.json().id)).toBe(run.id);
    const waiting = await stack.app.inject({ method: "GET", url: "/curation-runs", headers: auth(read) });
    expect(waiting.json().items.map((r: { id: string }) => r.id)).toContain(run.id);
    const cancelled = await stack.app.inject({ method: "POST", url: `/curation-runs/${run.id}/cancel`, headers: auth(write) });
    expect(cancelled.json().status).toBe("cancelled");
    expect(await stack.app.queues.curation.getJob(`plan-${run.id}`)).toBeUndefined();
    const again = await stack.app.inject({ method: "POST", url: `/curation-runs/${run.id}/cancel`, headers: auth(write) });
    expect(again.statusCode).toBe(409);
  });

  it("names the unknown source or pipeline", async () => {
    const a = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(write), payload: { source: "nope", pipeline: "web" } });
    expect(a.statusCode).toBe(400);
    expect(a.json().field).toBe("body.source");
    const b = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(write), payload: { source: "samples", pipeline: "web@9" } });
    expect(b.json().field).toBe("body.pipeline");
  });

  it("lists no dataset versions yet and 404s unknown ones", async () => {
    expect((await stack.app.inject({ method: "GET", url: "/dataset-versions", headers: auth(read) })).json()).toEqual({ items: [], total: 0 });
    const id = "00000000-0000-0000-0000-000000000000";
    for (const p of ["", "/shards", "/manifest"]) {
      expect((await stack.app.inject({ method: "GET", url: `/dataset-versions/${id}${p}`, headers: auth(read) })).statusCode).toBe(404);
    }
  });
});

describe("documentation", () => {
  it("serves OpenAPI 3.1 with every route and the error shape", async () => {
    const doc = (await stack.app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(doc.openapi).toBe("3.1.0");
    for (const p of ["/sources", "/pipelines", "/curation-runs", "/curation-runs/{id}", "/curation-runs/{id}/cancel", "/dataset-versions/{id}/shards", "/dataset-versions/{id}/manifest", "/tokens"]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    expect(doc.components.schemas.ErrorBody).toBeDefined();
    expect((await stack.app.inject({ method: "GET", url: "/docs/" })).statusCode).toBe(200);
  });

  it("reports health of PostgreSQL and Redis", async () => {
    expect((await stack.app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ ok: true, postgres: true, redis: true });
  });
});
