import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { experiment } from "../launcher/support.js";

/**
 * Names wherever ids over REST: every {id} route of a resource with a unique name answers the same
 * for the name as for the id, and an unknown name is a 404 naming the parameter. Real PostgreSQL.
 */
let stack: Stack;
let expId: string;
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
const get = (url: string, method: "GET" | "POST" = "GET") => stack.app.inject({ method, url, headers: auth() });

/** Both URLs answer 200 with the same body. */
async function same(byId: string, byName: string, method: "GET" | "POST" = "GET") {
  const [a, b] = [await get(byId, method), await get(byName, method)];
  expect(a.statusCode, `${byId}: ${a.body}`).toBe(200);
  expect({ url: byName, status: b.statusCode, body: b.json() }).toEqual({ url: byName, status: 200, body: a.json() });
}

async function missing(url: string, field = "params.id", method: "GET" | "POST" = "GET") {
  const res = await get(url, method);
  expect({ url, status: res.statusCode, error: res.json().error, field: res.json().field }).toEqual({ url, status: 404, error: "not_found", field });
}

beforeAll(async () => {
  stack = await startStack();
  expId = await experiment(stack, "names");
});
afterAll(async () => stack?.close());

describe("{id} routes take names", () => {
  it("experiments: get, budget, ledger, launch", async () => {
    for (const tail of ["", "/budget", "/ledger"]) await same(`/experiments/${expId}${tail}`, `/experiments/names${tail}`);
    for (const tail of ["", "/budget", "/ledger"]) await missing(`/experiments/no-such-experiment${tail}`);
    const launch = (ref: string) => stack.app.inject({ method: "POST", url: `/experiments/${ref}/runs`, headers: auth(), payload: { backend: "local" } });
    const res = await launch("names");
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json().experiment_id).toBe(expId);
    const none = await launch("no-such-experiment");
    expect([none.statusCode, none.json().field]).toEqual([404, "params.id"]);
  });

  it("GET /runs?experiment= takes the name", async () => {
    const byId = (await get(`/runs?experiment=${expId}`)).json();
    expect(byId.total).toBeGreaterThan(0);
    expect((await get("/runs?experiment=names")).json()).toEqual(byId);
    await missing("/runs?experiment=no-such-experiment", "query.experiment");
    // An unknown id is still a filter that matches nothing.
    expect((await get("/runs?experiment=00000000-0000-4000-8000-000000000000")).json()).toMatchObject({ items: [], total: 0 });
  });

  it("mixtures: get, budget, plan", async () => {
    const mixtureId = (await get(`/experiments/${expId}`)).json().mixtures[0].mixture_id as string;
    const name = (await get(`/mixtures/${mixtureId}`)).json().name as string;
    for (const tail of ["", "/budget"]) await same(`/mixtures/${mixtureId}${tail}`, `/mixtures/${name}${tail}`);
    await same(`/mixtures/${mixtureId}/plan`, `/mixtures/${name}/plan`, "POST");
    await missing("/mixtures/no-such-mixture");
    await missing("/mixtures/no-such-mixture/plan", "params.id", "POST");
  });

  it("sources", async () => {
    const s = await stack.prisma.source.create({ data: { name: "names-src", uri: "file:///srv/names", format: "jsonl", textField: "text", idField: "id" } });
    await same(`/sources/${s.id}`, "/sources/names-src");
    await missing("/sources/no-such-source");
  });

  it("pipelines: name is the newest version, name@version that one", async () => {
    const v1 = await stack.prisma.pipeline.create({ data: { name: "names-pipe", version: 1, spec: { name: "names-pipe", steps: [] }, specHash: "names-1" } });
    const v2 = await stack.prisma.pipeline.create({ data: { name: "names-pipe", version: 2, spec: { name: "names-pipe", steps: [] }, specHash: "names-2" } });
    await same(`/pipelines/${v2.id}`, "/pipelines/names-pipe");
    await same(`/pipelines/${v1.id}`, "/pipelines/names-pipe@1");
    for (const ref of ["no-such-pipe", "names-pipe@3", "names-pipe@x", "names-pipe@"]) await missing(`/pipelines/${encodeURIComponent(ref)}`);
  });

  it("dataset versions: name is the newest, name@<fingerprint prefix> one version; ambiguity is 409", async () => {
    const real = (await get(`/dataset-versions/${(await stack.prisma.datasetVersion.findFirstOrThrow({ where: { name: "names-web" } })).id}`)).json();
    const at = `names-web@${real.fingerprint.slice(0, 12)}`;
    for (const tail of ["", "/shards", "/manifest", "/stats"]) await same(`/dataset-versions/${real.id}${tail}`, `/dataset-versions/${encodeURIComponent(at)}${tail}`);
    // A later version of the same name becomes what the bare name means.
    const row = { storeUri: stack.storeUri, prefix: "datasets/names-web/later/", tokenizer: "llama3", docs: 1n, tokens: 1n, bytes: 1n, manifest: {} };
    const later = await stack.prisma.datasetVersion.create({ data: { ...row, name: "names-web", fingerprint: "f".repeat(64), createdAt: new Date(Date.now() + 60_000) } });
    await same(`/dataset-versions/${later.id}`, "/dataset-versions/names-web");
    await missing("/dataset-versions/no-such-dataset/shards");
    await missing(`/dataset-versions/${encodeURIComponent("names-web@0%")}`);

    for (const fp of ["abcd1", "abcd2"]) await stack.prisma.datasetVersion.create({ data: { ...row, name: "names-amb", fingerprint: fp.padEnd(64, "0") } });
    const amb = await get(`/dataset-versions/${encodeURIComponent("names-amb@abcd")}`);
    expect([amb.statusCode, amb.json().field]).toEqual([409, "params.id"]);
    expect((await get(`/dataset-versions/${encodeURIComponent("names-amb@abcd2")}`)).json().fingerprint).toBe("abcd2".padEnd(64, "0"));
  });

  it("bounds the parameter and still checks the token first", async () => {
    // A name of 128 characters with a version reaches the lookup; past 256 the router answers 414.
    await missing(`/pipelines/${"p".repeat(128)}@1`);
    const long = await get(`/experiments/${"x".repeat(257)}`);
    expect([long.statusCode, long.json().field]).toEqual([414, "url"]);
    const nul = await get("/sources/names-src%00");
    expect([nul.statusCode, nul.json().field]).toEqual([400, "params.id"]);
    expect((await stack.app.inject({ method: "GET", url: "/experiments/names" })).statusCode).toBe(401);
  });

  it("the OpenAPI document says id or name where names are taken, uuid where they are not", async () => {
    const spec = (await stack.app.inject({ method: "GET", url: "/openapi.json" })).json();
    const param = (path: string, method = "get", name = "id") => {
      const p = spec.paths[path][method].parameters.find((x: { name: string }) => x.name === name);
      return { format: p.schema.format, description: p.description ?? p.schema.description };
    };
    for (const path of ["/experiments/{id}", "/sources/{id}", "/pipelines/{id}", "/mixtures/{id}", "/dataset-versions/{id}/manifest"]) {
      expect(param(path).format, path).toBeUndefined();
      expect(param(path).description, path).toMatch(/name/);
    }
    expect(param("/runs", "get", "experiment").format).toBeUndefined();
    expect(param("/runs/{id}").format).toBe("uuid");
    expect(param("/curation-runs/{id}").format).toBe("uuid");
  });
});
