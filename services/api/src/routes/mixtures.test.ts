import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { startStack, type Stack } from "../../../../test/support/stack.js";

const ROOT = resolve(import.meta.dirname, "../../../..");
let stack: Stack;
const auth = () => ({ authorization: `Bearer ${stack.admin}` });
const ids: Record<string, string> = {};

/** A dataset version row with a synthetic manifest (as the curator's finalize step writes it). */
async function version(name: string, shards: number, tokensPerShard: number, tokenizer = "llama3") {
  const shardList = Array.from({ length: shards }, (_, i) => ({ file: `shard-${String(i).padStart(5, "0")}-0000.arrow`, rows: 10, tokens: tokensPerShard, bytes: 1, sha256: "0".repeat(64) }));
  const manifest = {
    manifest_version: 1, dataset: name, fingerprint: `fp-${name}-${tokenizer}`, code_version: "test",
    tokenizer: { id: tokenizer, vocab_sha256: "x", vocab_size: 128256, eos_id: 128001 }, pipeline: { name: "p", hash: "h" }, inputs: [],
    shards: shardList, totals: { shards, rows: shards * 10, tokens: shards * tokensPerShard, bytes: shards },
  };
  const v = await stack.prisma.datasetVersion.create({
    data: { name, fingerprint: manifest.fingerprint, storeUri: "file:///tmp", prefix: `datasets/${name}/`, tokenizer, docs: BigInt(shards * 10), tokens: BigInt(shards * tokensPerShard), bytes: 1n, manifest },
  });
  return v.id;
}

const spec = (over: Record<string, unknown> = {}) => ({
  name: "demo-mix",
  seed: 3,
  seq_len: 128,
  tokenizer: "llama3",
  block_size: 64,
  phases: [{ name: "p1", tokens: 128 * 64 * 10, components: [{ name: "web", dataset: ids.web, weight: 3 }, { name: "math", dataset: ids.math, weight: 1 }] }],
  ...over,
});

beforeAll(async () => {
  stack = await startStack();
  ids.web = await version("web", 4, 100_000);
  ids.math = await version("math", 2, 5_000);
  ids.other = await version("gpt2-web", 1, 50_000, "gpt2");
});
afterAll(async () => stack?.close());

describe("mixtures", () => {
  it("creates a mixture, stores its plan and serves the budget table", async () => {
    const res = await stack.app.inject({ method: "POST", url: "/mixtures", headers: auth(), payload: spec() });
    expect(res.statusCode).toBe(201);
    const m = res.json();
    expect(m.plan.fingerprint).toMatch(/^[0-9a-f]{32}$/);
    const budget = (await stack.app.inject({ method: "GET", url: `/mixtures/${m.id}/budget`, headers: auth() })).json();
    expect(budget.map((r: any) => [r.source, r.tokens])).toEqual([["web", 128 * 480], ["math", 128 * 160]]);
    expect(budget[1].epochs).toBeCloseTo(160 / Math.floor((10_000 + 20 - 1) / 128), 9);
    const replanned = (await stack.app.inject({ method: "POST", url: `/mixtures/${m.id}/plan`, headers: auth() })).json();
    expect(replanned.fingerprint).toBe(m.plan.fingerprint);
    expect((await stack.prisma.mixtureComponent.count({ where: { mixtureId: m.id } }))).toBe(2);
    const dup = await stack.app.inject({ method: "POST", url: "/mixtures", headers: auth(), payload: spec() });
    expect(dup.statusCode).toBe(409);
  });

  it.each([
    ["weights that sum to zero", { phases: [{ name: "p", tokens: 1e6, components: [{ name: "a", dataset: "web", weight: 0 }] }] }, "body.phases[0].components", /sum to 0/],
    ["a negative weight", { phases: [{ name: "p", tokens: 1e6, components: [{ name: "a", dataset: "web", weight: -1 }] }] }, "body.phases[0].components[0].weight", /≥ 0/],
    ["an unknown dataset version", { phases: [{ name: "p", tokens: 1e6, components: [{ name: "a", dataset: "nope", weight: 1 }] }] }, "body.phases[0].components[0].dataset", /unknown dataset/],
    ["a tokenizer mismatch", { phases: [{ name: "p", tokens: 1e6, components: [{ name: "a", dataset: "gpt2-web", weight: 1 }] }] }, "body.phases[0].components[0].dataset", /gpt2.*llama3/],
    ["too many epochs", { phases: [{ name: "p", tokens: 128 * 64 * 10, components: [{ name: "m", dataset: "math", weight: 1, max_epochs: 4 }] }] }, "body.phases[0].components[0].max_epochs", /passes over math.*max_epochs is 4/],
    ["a schedule off a block boundary", { phases: [{ name: "p", tokens: 128 * 64 * 10, components: [{ name: "a", dataset: "web", weight: 1 }], schedule: [{ start_tokens: 1000, weights: { a: 1 } }] }] }, "body.phases[0].schedule[0].start_tokens", /not a block boundary/],
    ["two forms at once", { phases: [{ name: "p", tokens: 1e6, components: [{ name: "a", dataset: "web", weight: 1, tokens: 5 }] }] }, "body.phases[0].components[0]", /exactly one/],
    ["an unknown key", { colour: "red" }, "body.colour", /not a known property/],
  ])("rejects %s with 400 naming the field, creating nothing", async (_what, over, field, message) => {
    const before = await stack.prisma.mixture.count();
    const res = await stack.app.inject({ method: "POST", url: "/mixtures", headers: auth(), payload: spec({ name: "bad", ...over }) });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe(field);
    expect(res.json().message).toMatch(message);
    expect(await stack.prisma.mixture.count()).toBe(before);
  });
});

describe("experiments", () => {
  it("creates an experiment from the demo recipe, one mixture per stage, with budgets over REST", async () => {
    const recipe = parseYaml(readFileSync(resolve(ROOT, "recipes/demo.yaml"), "utf8"), { merge: true });
    const datasets = Object.fromEntries(recipe.sources.map((s: any) => [s.name, s.domain === "math" ? ids.math : ids.web]));
    const res = await stack.app.inject({ method: "POST", url: "/experiments", headers: auth(), payload: { name: "demo", recipe, datasets } });
    expect(res.statusCode, res.body).toBe(201);
    const e = res.json();
    expect(e.mixtures.length).toBe(recipe.stages.length);
    const budget = (await stack.app.inject({ method: "GET", url: `/experiments/${e.id}/budget`, headers: auth() })).json();
    expect(budget.length).toBeGreaterThan(0);
    expect(budget[0]).toMatchObject({ stage: recipe.stages[0].name, phase: expect.any(String), tokens: expect.any(Number) });
  });

  it("rejects a recipe with an unknown key and leaves nothing behind", async () => {
    const recipe = parseYaml(readFileSync(resolve(ROOT, "recipes/demo.yaml"), "utf8"), { merge: true });
    recipe.stages[0].phases[0].training.lr_warp = 2;
    const before = await stack.prisma.mixture.count();
    const datasets = Object.fromEntries(recipe.sources.map((s: any) => [s.name, ids.web]));
    const res = await stack.app.inject({ method: "POST", url: "/experiments", headers: auth(), payload: { name: "demo-bad", recipe, datasets } });
    expect(res.statusCode).toBe(400);
    expect(res.json().field).toBe("body.recipe.stages[0].phases[0].training.lr_warp");
    expect(await stack.prisma.mixture.count()).toBe(before);
  });
});
