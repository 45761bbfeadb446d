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
  it("plan --json prints {phase, source, tokens, share, available_tokens, epochs} rows of every phase", async () => {
    const r = await tm(["--json", "recipe", "plan", "recipes/mobilellm-r1-950m.yaml"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.length).toBe(7 + 14 + 9 + 10);
    expect(Object.keys(rows[0]).sort()).toEqual(["available_tokens", "epochs", "phase", "share", "source", "tokens"]);
    const owm = rows.find((x: any) => x.phase === "pretrain-2" && x.source === "openwebmath");
    expect(owm.share * 100).toBeCloseTo(23.33, 2);
    expect(owm.epochs).toBeCloseTo(37.0, 0);
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
