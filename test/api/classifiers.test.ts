import { resolve } from "node:path";
import { tableFromIPC } from "apache-arrow";
import { datasetPrefix } from "@tokenmill/domain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

const LABELS = resolve(import.meta.dirname, "../fixtures/data/dedup_quality/dclm_human_quality_labels.jsonl.gz");
let stack: Stack;
let write: string;
let read: string;
const auth = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  stack = await startStack({ worker: true });
  write = await stack.token(["write"]);
  read = await stack.token(["read"]);
  const src = await stack.app.inject({ method: "POST", url: "/sources", headers: auth(write), payload: { name: "dclm-labels", uri: `file://${LABELS}` } });
  expect(src.statusCode).toBe(201);
});
afterAll(async () => stack?.close());

describe("classifiers API", () => {
  let version = "";

  it("trains from a labelled source, stores model.bin + meta.json, and reports held-out metrics", async () => {
    const body = { name: "dclm-quality", source: "dclm-labels", label_field: "meta.label", positive_label: 1, seed: 1 };
    let trained = false;
    const training = stack.app.inject({ method: "POST", url: "/classifiers", headers: auth(write), payload: body }).then((r) => {
      trained = true;
      return r;
    });
    // fastText trains in a child process: the API answers other requests meanwhile.
    const other = await stack.app.inject({ method: "GET", url: "/classifiers", headers: auth(read) });
    expect(other.statusCode).toBe(200);
    expect(trained).toBe(false);
    const res = await training;
    expect(res.statusCode, res.body).toBe(201);
    const c = res.json();
    version = c.version;
    expect(version).toMatch(/^[0-9a-f]{16}$/);
    expect(c.auc).toBeGreaterThan(0.8);
    expect(c.accuracy).toBeGreaterThan(c.baseline_accuracy + 0.1);
    expect(c.meta.training_data).toMatchObject({ source: { name: "dclm-labels" }, label_field: "meta.label", examples: 499, label_counts: { "0": 227, "1": 272 } });
    expect(c.meta.training_data.inputs[0].id).toBe("sha256:c9aeef2bb21752fe32aaf30a60f6284a1451bcf7317dc3fa077ab337bd4dccf4");
    expect(await stack.store.head(`classifiers/dclm-quality/${version}/model.bin`)).not.toBeNull();
    expect(await stack.store.head(`classifiers/dclm-quality/${version}/meta.json`)).not.toBeNull();
    // Same data and config: same bytes, same version, 200.
    const again = await stack.app.inject({ method: "POST", url: "/classifiers", headers: auth(write), payload: body });
    expect(again.statusCode).toBe(200);
    expect(again.json().version).toBe(version);
  });

  it("lists and gets versions; rejects bad requests", async () => {
    const list = await stack.app.inject({ method: "GET", url: "/classifiers", headers: auth(read) });
    expect(list.json()).toMatchObject({ total: 1, items: [{ name: "dclm-quality", version }] });
    const got = await stack.app.inject({ method: "GET", url: `/classifiers/dclm-quality/${version}`, headers: auth(read) });
    expect(got.json().meta.header).toMatchObject({ engine: "fasttext", labels: ["0", "1"] });
    expect((await stack.app.inject({ method: "GET", url: "/classifiers/dclm-quality/latest", headers: auth(read) })).json().version).toBe(version);
    expect((await stack.app.inject({ method: "GET", url: "/classifiers/nope/latest", headers: auth(read) })).statusCode).toBe(404);
    expect((await stack.app.inject({ method: "GET", url: "/classifiers/dclm-quality/0123456789abcdef", headers: auth(read) })).statusCode).toBe(404);
    const denied = await stack.app.inject({ method: "POST", url: "/classifiers", headers: auth(read), payload: { name: "x", source: "dclm-labels", label_field: "label", positive_label: "1" } });
    expect(denied.statusCode).toBe(403);
    const noSource = await stack.app.inject({ method: "POST", url: "/classifiers", headers: auth(write), payload: { name: "x", source: "missing", label_field: "label", positive_label: "1" } });
    expect(noSource.statusCode).toBe(404);
    const badLabel = await stack.app.inject({ method: "POST", url: "/classifiers", headers: auth(write), payload: { name: "x", source: "dclm-labels", label_field: "meta.label", positive_label: "yes" } });
    expect(badLabel.statusCode).toBe(400);
    expect(badLabel.json().message).toContain('"yes" is not among the labels found ("0", "1")');
  });

  it("a curation run's quality_classifier step loads the classifier by name from the store and writes the score column", async () => {
    const pipe = await stack.app.inject({
      method: "POST",
      url: "/pipelines",
      headers: auth(write),
      payload: { version: 1, name: "quality", steps: [{ step: "quality_classifier", model: "dclm-quality", threshold: 0.5 }, { step: "tokenize" }] },
    });
    expect(pipe.statusCode).toBe(201);
    const res = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(write), payload: { source: "dclm-labels", pipeline: "quality", dataset_name: "dclm-q" } });
    expect(res.statusCode, res.body).toBe(202);
    const run = await waitForRun(stack, res.json().id);
    expect(run.status, JSON.stringify(run)).toBe("succeeded");
    const stats = JSON.parse((await stack.store.get(`${datasetPrefix("dclm-q", run.fingerprint)}stats.json`)).toString());
    const step = stats.steps.find((s: { step: string }) => s.step === "quality_classifier");
    expect(step.docs_in).toBe(499);
    expect(step.dropped["quality_classifier:below_threshold"]).toBeGreaterThan(0);
    const shards = (await stack.store.list(datasetPrefix("dclm-q", run.fingerprint))).filter((o) => o.key.endsWith(".arrow"));
    const table = tableFromIPC(await stack.store.get(shards[0]!.key));
    expect(String(table.schema.fields.at(-1)!.type)).toBe("Float32");
    expect(table.schema.fields.at(-1)!.name).toBe("quality_score");
    for (let i = 0; i < table.numRows; i++) expect(table.getChild("quality_score")!.get(i)).toBeGreaterThanOrEqual(0.5);

    // The run's tasks ran the classifier pinned at planning.
    const row = await stack.prisma.curationRun.findUniqueOrThrow({ where: { id: run.id } });
    expect((row.pinnedSpec as { steps: { model?: string }[] }).steps[0]!.model).toBe(`dclm-quality@${version}`);
    // A newer version of the classifier is a different input: the same pipeline then makes a new dataset version.
    const newer = await stack.app.inject({
      method: "POST",
      url: "/classifiers",
      headers: auth(write),
      payload: { name: "dclm-quality", source: "dclm-labels", label_field: "meta.label", positive_label: 1, seed: 1, epochs: 3 },
    });
    expect(newer.statusCode, newer.body).toBe(201);
    const again = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(write), payload: { source: "dclm-labels", pipeline: "quality", dataset_name: "dclm-q" } });
    const rerun = await waitForRun(stack, again.json().id);
    expect(rerun.status, JSON.stringify(rerun)).toBe("succeeded");
    expect(rerun.reused_version).toBe(false);
    expect(rerun.fingerprint).not.toBe(run.fingerprint);
    const pinned = await stack.prisma.curationRun.findUniqueOrThrow({ where: { id: rerun.id } });
    expect((pinned.pinnedSpec as { steps: { model?: string }[] }).steps[0]!.model).toBe(`dclm-quality@${newer.json().version}`);
  });
});
