import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { startStack, type Stack } from "../support/stack.js";

const ROOT = resolve(import.meta.dirname, "../..");

let stack: Stack;
let url: string;
let tmp: string;

const tm = (args: string[]) =>
  runCli(args, { cwd: ROOT, env: { TOKENMILL_URL: url, TOKENMILL_TOKEN: stack.admin, TOKENMILL_CONFIG_DIR: join(tmp, "config") } });

/**
 * The demo recipe cut to two sources (web, code) and one phase of 393,216 tokens shared equally.
 * The web sample holds ~33k tokens, so web is read ~5.8 times; `declaredWebTokens` lets the offline
 * plan believe otherwise, so only the server (planning over the curated sizes) sees the problem.
 */
async function recipe(file: string, o: { webMaxEpochs: number; declaredWebTokens: number; webUri?: string }) {
  const r = parse(await readFile(join(ROOT, "recipes/demo.yaml"), "utf8"));
  r.name = "apply-test";
  r.sources = r.sources.filter((s: any) => s.name === "web" || s.name === "code");
  const web = r.sources.find((s: any) => s.name === "web");
  web.declared.tokens = o.declaredWebTokens;
  if (o.webUri) web.uri = o.webUri;
  const phase = r.stages[0].phases[0];
  phase.mix = [{ source: "web", weight: 1, max_epochs: o.webMaxEpochs }, { source: "code", weight: 1 }];
  r.stages[0].phases = [phase];
  const path = join(tmp, file);
  await writeFile(path, stringify(r));
  return path;
}

async function counts() {
  const p = stack.prisma;
  const [sources, pipelines, curationRuns, datasetVersions, mixtures, experiments, objects] = await Promise.all([
    p.source.count(),
    p.pipeline.count(),
    p.curationRun.count(),
    p.datasetVersion.count(),
    p.mixture.count(),
    p.experiment.count(),
    stack.store.list("datasets/").then((l) => l.length),
  ]);
  return { sources, pipelines, curationRuns, datasetVersions, mixtures, experiments, objects };
}

const NOTHING = { sources: 0, pipelines: 0, curationRuns: 0, datasetVersions: 0, mixtures: 0, experiments: 0, objects: 0 };

beforeAll(async () => {
  stack = await startStack({ worker: true });
  url = await stack.app.listen({ host: "127.0.0.1", port: 0 });
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-apply-"));
});
afterAll(async () => {
  await stack?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("tokenmill recipe apply is all or nothing", () => {
  it("writes nothing when the server's preflight rejects a source URI (the recipe's pipelines come first)", async () => {
    const file = await recipe("bad-uri.yaml", { webMaxEpochs: 10, declaredWebTokens: 33642, webUri: "file:data/samples/no-such-file.jsonl.gz" });
    const r = await tm(["recipe", "apply", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sources\[0\]\.uri/);
    expect(await counts()).toEqual(NOTHING);
  });

  it("a failure at the last step (the plan over the curated sizes exceeds max_epochs) leaves nothing behind", async () => {
    const file = await recipe("too-many-epochs.yaml", { webMaxEpochs: 4, declaredWebTokens: 1_000_000 });
    expect((await tm(["recipe", "plan", file])).code).toBe(0); // the offline plan cannot tell
    const r = await tm(["recipe", "apply", file]);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toMatch(/max_epochs/);
    expect(r.stdout).toMatch(/source web: dataset version/);
    expect(r.stdout).toContain("removed what it created: 2 curation run(s), 2 dataset version(s), 2 source(s), 1 pipeline(s)");
    expect(await counts()).toEqual(NOTHING);
  });

  it("after a successful apply, a failing one removes only its own runs: shared sources, pipelines and versions stay", async () => {
    const ok = await tm(["recipe", "apply", await recipe("ok.yaml", { webMaxEpochs: 10, declaredWebTokens: 33642 })]);
    expect(ok.code, ok.stderr).toBe(0);
    const after = await counts();
    expect(after).toMatchObject({ sources: 2, pipelines: 1, curationRuns: 2, datasetVersions: 2, mixtures: 1, experiments: 1 });

    const bad = await tm(["--json", "recipe", "apply", "--name", "apply-test-2", await recipe("bad.yaml", { webMaxEpochs: 4, declaredWebTokens: 1_000_000 })]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe(""); // --json: nothing on stdout, the report on stderr
    expect(bad.stderr).toContain("removed what it created: 2 curation run(s), 0 dataset version(s), 0 source(s), 0 pipeline(s)");
    expect(await counts()).toEqual(after);
  });
});
