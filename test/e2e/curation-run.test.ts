import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SAMPLES = join(ROOT, "data/samples");
const BAD = join(ROOT, "test/fixtures/bad");
const PYTHON = join(ROOT, ".venv/bin/python");
const auth = (s: Stack) => ({ authorization: `Bearer ${s.admin}` });
const pipeline = { version: 1, name: "sample-default", steps: [{ step: "normalize" }, { step: "length", min_chars: 20 }, { step: "tokenize" }] };

async function curate(stack: Stack, sourceName: string, uri: string) {
  const src = await stack.app.inject({ method: "POST", url: "/sources", headers: auth(stack), payload: { name: sourceName, uri } });
  expect([201, 409]).toContain(src.statusCode);
  expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(stack), payload: pipeline })).statusCode).toBeLessThan(300);
  const started = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(stack), payload: { source: sourceName, pipeline: pipeline.name } });
  expect(started.statusCode).toBe(202);
  return waitForRun(stack, started.json().id);
}

function expectConservation(run: any) {
  const dropped = run.steps.reduce((a: number, s: any) => a + Object.values(s.dropped as Record<string, number>).reduce((x, y) => x + y, 0), 0);
  expect(run.totals.docs_in).toBe(run.totals.docs_kept + dropped);
  for (let i = 0; i < run.steps.length; i++) {
    const s = run.steps[i];
    expect(s.docs_in - s.docs_out).toBe(Object.values(s.dropped as Record<string, number>).reduce((x: number, y: number) => x + y, 0));
    if (i > 0) expect(s.docs_in).toBe(run.steps[i - 1].docs_out);
  }
  expect(run.steps.at(-1).docs_out).toBe(run.totals.docs_kept);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("a curation run through the API, the queue and a worker", () => {
  let fileStack: Stack;
  let s3Stack: Stack;
  let fileRun: any;

  beforeAll(async () => {
    [fileStack, s3Stack] = await Promise.all([startStack({ store: "file", worker: true }), startStack({ store: "s3", worker: true })]);
  });
  afterAll(async () => {
    await Promise.allSettled([fileStack?.close(), s3Stack?.close()]);
  });

  it("curates the samples into a file:// store with a complete funnel", async () => {
    fileRun = await curate(fileStack, "samples", `file://${SAMPLES}`);
    expect(fileRun.status, JSON.stringify(fileRun)).toBe("succeeded");
    expect(fileRun.steps.map((s: any) => s.step)).toEqual(["read", "normalize", "length", "tokenize"]);
    expect(fileRun.totals.docs_kept).toBeGreaterThan(100);
    expect(fileRun.totals.tokens_kept).toBeGreaterThan(10_000);
    expect(fileRun.progress.fraction).toBe(1);
    expectConservation(fileRun);

    const version = (await fileStack.app.inject({ method: "GET", url: `/dataset-versions/${fileRun.dataset_version_id}`, headers: auth(fileStack) })).json();
    expect(version).toMatchObject({ fingerprint: fileRun.fingerprint, docs: fileRun.totals.docs_kept, tokens: fileRun.totals.tokens_kept });
    const manifest = (await fileStack.app.inject({ method: "GET", url: `/dataset-versions/${version.id}/manifest`, headers: auth(fileStack) })).json();
    expect(manifest.totals.tokens).toBe(fileRun.totals.tokens_kept);
    const shards = (await fileStack.app.inject({ method: "GET", url: `/dataset-versions/${version.id}/shards`, headers: auth(fileStack) })).json().items;
    expect(shards.length).toBe(manifest.shards.length);
    for (const s of shards) expect(sha(await fileStack.store.get(s.key))).toBe(s.sha256);
    const stats = JSON.parse((await fileStack.store.get(`${version.prefix}stats.json`)).toString());
    expect(stats.docs_in).toBe(fileRun.totals.docs_in);
    expect(stats.steps).toEqual(fileRun.steps);
  });

  it("shards open in pyarrow with the documented schema and Hugging Face token ids", async () => {
    const version = (await fileStack.app.inject({ method: "GET", url: `/dataset-versions/${fileRun.dataset_version_id}`, headers: auth(fileStack) })).json();
    const dir = new URL(version.url).pathname;
    const out = JSON.parse(execFileSync(PYTHON, [join(ROOT, "test/python/check_shards.py"), dir], { encoding: "utf8", maxBuffer: 64 << 20 }));
    expect(out.ok).toBe(true);
    expect(out.rows).toBe(fileRun.totals.docs_kept);
    expect(out.tokens).toBe(fileRun.totals.tokens_kept);
  });

  it("a second run of the same pipeline over the same inputs reuses the same version", async () => {
    const again = await curate(fileStack, "samples", `file://${SAMPLES}`);
    expect(again.status).toBe("succeeded");
    expect(again.reused_version).toBe(true);
    expect(again.fingerprint).toBe(fileRun.fingerprint);
    expect(again.dataset_version_id).toBe(fileRun.dataset_version_id);
    expect(again.steps).toEqual(fileRun.steps);
  });

  it("the same run into S3 gives the same fingerprint and byte-identical shards", async () => {
    const s3Run = await curate(s3Stack, "samples", `file://${SAMPLES}`);
    expect(s3Run.status, JSON.stringify(s3Run)).toBe("succeeded");
    expect(s3Run.fingerprint).toBe(fileRun.fingerprint);
    expect(s3Run.steps).toEqual(fileRun.steps);
    const list = async (s: Stack, id: string) => (await s.app.inject({ method: "GET", url: `/dataset-versions/${id}/shards`, headers: auth(s) })).json().items;
    const a = await list(fileStack, fileRun.dataset_version_id);
    const b = await list(s3Stack, s3Run.dataset_version_id);
    expect(b.map((s: any) => [s.key, s.sha256])).toEqual(a.map((s: any) => [s.key, s.sha256]));
    expect(b[0].url).toMatch(/^s3:\/\//);
    for (const s of b) expect(sha(await s3Stack.store.get(s.key))).toBe(s.sha256);
    const dropped = await s3Stack.store.list(`${s3Run.fingerprint ? "datasets/samples/" + s3Run.fingerprint : ""}/dropped/`);
    const fileDropped = await fileStack.store.list(`datasets/samples/${fileRun.fingerprint}/dropped/`);
    expect(dropped.map((o) => o.key)).toEqual(fileDropped.map((o) => o.key));
  });

  it("accounts for every bad input document with file, line and byte offset", async () => {
    const run = await curate(fileStack, "bad-inputs", `file://${BAD}`);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    expectConservation(run);
    const read = run.steps[0].dropped as Record<string, number>;
    expect(Object.keys(read)).toEqual(expect.arrayContaining(["read:malformed_json", "read:invalid_utf8", "read:missing_text"]));
    const keys = await fileStack.store.list(`datasets/bad-inputs/${run.fingerprint}/dropped/`);
    expect(keys.length).toBeGreaterThan(0);
    const { gunzipSync } = await import("node:zlib");
    const records = (await Promise.all(keys.map(async (k) => gunzipSync(await fileStack.store.get(k.key)).toString().trim().split("\n"))))
      .flat()
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const malformed = records.find((r) => r.reason === "read:malformed_json");
    expect(malformed).toMatchObject({ step: "read" });
    expect(malformed.file).toContain("bad");
    expect(malformed.line).toBeGreaterThan(0);
    expect(malformed.byte_offset).toBeGreaterThanOrEqual(0);
    expect(records.length).toBe(run.totals.docs_dropped);
  });

  it("reads sources over http:// and s3:// into the same documents", async () => {
    const { startFileServer } = await import("@tokenmill/testkit");
    const { readFile } = await import("node:fs/promises");
    const file = "c4_redpajama_cc_samples.jsonl.gz";
    const http = await startFileServer(SAMPLES);
    try {
      const viaHttp = await curate(fileStack, "c4-http", `${http.url}/${file}`);
      expect(viaHttp.status, JSON.stringify(viaHttp)).toBe("succeeded");
      await s3Stack.store.put(`inputs/${file}`, await readFile(join(SAMPLES, file)));
      const viaS3 = await curate(s3Stack, "c4-s3", `s3://${s3Stack.s3!.bucket}/tokenmill/inputs/`);
      expect(viaS3.status, JSON.stringify(viaS3)).toBe("succeeded");
      expect(viaS3.steps).toEqual(viaHttp.steps);
      expect(viaHttp.totals.docs_in).toBe(50);
      expect(viaS3.totals.tokens_kept).toBe(viaHttp.totals.tokens_kept);
    } finally {
      await http.close();
    }
  });

  it("fails a run whose source disappeared, naming the input", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokenmill-vanish-"));
    await mkdir(join(dir, "d"));
    await cp(join(SAMPLES, (await import("node:fs")).readdirSync(SAMPLES).find((f) => f.endsWith(".jsonl.gz"))!), join(dir, "d", "a.jsonl.gz"));
    const src = await fileStack.app.inject({ method: "POST", url: "/sources", headers: auth(fileStack), payload: { name: "vanishing", uri: `file://${dir}/d` } });
    expect(src.statusCode).toBe(201);
    await rm(join(dir, "d"), { recursive: true });
    await writeFile(join(dir, "placeholder"), "");
    const started = await fileStack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(fileStack), payload: { source: "vanishing", pipeline: pipeline.name } });
    const run = await waitForRun(fileStack, started.json().id);
    expect(run.status).toBe("failed");
    expect(run.error).toContain(`${dir}/d`);
    await rm(dir, { recursive: true, force: true });
  });
});
