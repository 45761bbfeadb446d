import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Worker } from "bullmq";
import { startStack, type Stack } from "../support/stack.js";
import { startLauncher } from "../launcher/support.js";

/**
 * The README's main job: `tokenmill recipe apply recipes/demo.yaml` (curation of the bundled
 * samples → plan → experiment), then `tokenmill runs launch --watch` on the local backend on CPU
 * (trainer → progress → ledger), with the real binary, API, curator and launcher.
 */
const ROOT = resolve(import.meta.dirname, "../..");
let stack: Stack;
let launcher: Worker;
let url: string;
let tmp: string;

const tm = (args: string[]) =>
  runCli(args, { cwd: ROOT, env: { TOKENMILL_URL: url, TOKENMILL_TOKEN: stack.admin, TOKENMILL_CONFIG_DIR: join(tmp, "config") } });

beforeAll(async () => {
  stack = await startStack({ worker: true });
  url = await stack.app.listen({ host: "127.0.0.1", port: 0 });
  tmp = await mkdtemp(join(tmpdir(), "tokenmill-recipe-run-"));
  launcher = await startLauncher(stack, url, join(tmp, "runs"));
});
afterAll(async () => {
  await launcher?.close(true);
  await stack?.close();
  await rm(tmp, { recursive: true, force: true });
});

describe("recipe apply → training run on the local backend", () => {
  it("curates, plans, trains on CPU and ends with consumed = planned tokens per phase and source", async () => {
    const applied = await tm(["--json", "recipe", "apply", "recipes/demo.yaml", "--scale", "0.01"]);
    expect(applied.code, applied.stderr).toBe(0);
    const { experiment, budget } = JSON.parse(applied.stdout);
    expect(budget.length).toBe(8);

    const launched = await tm(["runs", "launch", experiment.id, "--model", "tiny", "--overrides", JSON.stringify({ model: { max_seq_len: 512 }, micro_batch_size: 2, progress_every_steps: 1 }), "--watch"]);
    expect(launched.code, launched.stdout + launched.stderr).toBe(0);
    expect(launched.stdout).toMatch(/: succeeded .*\| step (\d+)\/\1 /);

    const ledger = JSON.parse((await tm(["--json", "runs", "ledger", experiment.id])).stdout);
    expect(ledger.map((l: any) => [l.phase, l.source, l.planned])).toEqual(budget.map((b: any) => [b.phase, b.source, b.tokens]));
    for (const l of ledger) expect(l.consumed, `${l.phase}/${l.source}`).toBe(l.planned);
    const table = (await tm(["runs", "ledger", experiment.id])).stdout;
    expect(table).toContain("100.0%");
  });
});
