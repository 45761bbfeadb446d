import { describe, expect, it } from "vitest";
import { runCli } from "../../../test/support/cli.js";
import { mkdtemp, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");

/** The real binary, offline: no API, no database (TOKENMILL_URL points nowhere). */
const tm = (args: string[]) => runCli(args, { cwd: ROOT, env: { TOKENMILL_URL: "http://127.0.0.1:1" } });

describe("tokenmill recipe (offline)", () => {
  it("plan --json prints {stage, phase, source, tokens, share, available_tokens, epochs, cumulative_epochs, max_epochs, flag} rows of every phase", async () => {
    const r = await tm(["--json", "recipe", "plan", "recipes/mobilellm-r1-950m.yaml"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.length).toBe(7 + 14 + 9 + 10);
    expect(Object.keys(rows[0]).sort()).toEqual(["available_tokens", "cumulative_epochs", "epochs", "flag", "max_epochs", "phase", "share", "source", "stage", "tokens"]);
    const owm = rows.find((x: any) => x.phase === "pretrain-2" && x.source === "openwebmath");
    expect(owm.share * 100).toBeCloseTo(23.33, 2);
    expect(owm.epochs).toBeCloseTo(37.0, 0);
    // 48 passes over OpenWebMath against the default cap of 64: flagged, while one pass is not.
    expect(owm.cumulative_epochs).toBeCloseTo(48.0, 0);
    expect(owm.flag).toBe("high 75% of max");
    expect(rows.find((x: any) => x.phase === "pretrain-1" && x.source === "fineweb-edu").flag).toBe("");
  });

  it("plan names the model and the steps each phase's budget implies, so the 140M and 950M tables differ", async () => {
    const [small, large] = await Promise.all([tm(["recipe", "plan", "recipes/mobilellm-r1-140m.yaml"]), tm(["plan", "recipes/mobilellm-r1-950m.yaml"])]);
    expect(small.code, small.stderr).toBe(0);
    expect(small.stdout).toMatch(/^recipe mobilellm-r1-140m: model mobilellm-r1-140m, 140\.2M parameters \(140,248,512\): 15 layers, hidden 576/);
    expect(large.stdout).toMatch(/^recipe mobilellm-r1-950m: model mobilellm-r1-950m, 949\.7M parameters \(949,685,760\): 22 layers, hidden 1536/);
    // 2T tokens / (16 per GPU × 128 GPUs × 2048 tokens) = 476,837.2 → 476,838 steps; the paper states 500,000.
    expect(small.stdout).toContain("phase pretrain-1: 2,000,000,000,000 tokens = 476,838 steps × 2,048 sequences × 2,048 tokens (recipe: 500,000 steps)");
    expect(small.stdout).toMatch(/pretrain-2\s+openwebmath\s.*48\.01\s+64\s+high 75% of max/);
  });

  it("plan prints the table; `plan <recipe>` is the same", async () => {
    const a = await tm(["recipe", "plan", "recipes/demo.yaml"]);
    const b = await tm(["plan", "recipes/demo.yaml"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/phase-2\s+web\s+w 10/);
    expect(b.stdout).toBe(a.stdout);
  });

  it("a bad recipe exits 1 naming the key; diff lists differing paths", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokenmill-recipe-"));
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, readFileSync(join(ROOT, "recipes/demo.yaml"), "utf8").replace("steps: 96", "steps: 96\n          lr_warp: 2"));
    const r = await tm(["recipe", "plan", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stages[0].phases[0].training.lr_warp: unknown key");
    const d = await tm(["--json", "recipe", "diff", "recipes/mobilellm-r1-140m.yaml", "recipes/mobilellm-r1-360m.yaml"]);
    expect(JSON.parse(d.stdout).map((x: any) => x.path)).toContain("model.hidden_size");
  });
});
