import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startStack, type Stack } from "../support/stack.js";

const ROOT = resolve(import.meta.dirname, "../..");
const LABELS = join(ROOT, "test/fixtures/data/dedup_quality/dclm_human_quality_labels.jsonl.gz");

let stack: Stack;
let url: string;
let tmp: string;

/** The CLI's stdout; a non-zero exit fails the test with its stderr. */
async function tm(args: string[]) {
  const r = await runCli(args, { env: { TOKENMILL_URL: url, TOKENMILL_TOKEN: stack.admin, TOKENMILL_CONFIG_DIR: join(tmp, "config") } });
  if (r.code !== 0) throw new Error(`tokenmill ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  stack = await startStack();
  // Fastify resolves listen() with the address it bound, e.g. http://127.0.0.1:43123.
  url = await stack.app.listen({ host: "127.0.0.1", port: 0 });
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-cli-"));
});
afterAll(async () => {
  await stack?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("tokenmill classifiers", () => {
  it("trains, lists and gets a classifier", async () => {
    await tm(["sources", "add", "labels", `file://${LABELS}`]);
    const trained = await tm(["classifiers", "train", "q", "--source", "labels", "--label-field", "meta.label", "--positive", "1", "--seed", "1"]);
    const m = /^classifier q@([0-9a-f]{16}): .*model\.bin .*\nheld-out: 105 examples, accuracy (0\.\d+) \(majority baseline 0\.5619\), AUC (0\.\d+); trained on 394\n$/.exec(trained);
    expect(m, trained).not.toBeNull();
    const list = await tm(["classifiers", "list"]);
    expect(list).toContain(m![1]);
    const got = JSON.parse(await tm(["classifiers", "get", "q"]));
    expect(got).toMatchObject({ name: "q", version: m![1], meta: { training_data: { label_field: "meta.label", examples: 499 } } });
    expect(JSON.parse(await tm(["classifiers", "get", `q@${m![1]}`])).version).toBe(m![1]);
  });
});
