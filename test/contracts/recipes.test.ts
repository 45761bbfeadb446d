import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { countParams, diffRecipes, parseRecipeText, planRecipe, recipeBudgetRows, type ModelConfig } from "@tokenmill/domain";

const ROOT = resolve(import.meta.dirname, "../..");
const read = (f: string) => readFileSync(join(ROOT, f), "utf8");
const models = JSON.parse(read("test/contracts/model-configs.json")).models as Record<string, ModelConfig & { params: number }>;
const published = JSON.parse(read("test/contracts/mobilellm-r1-published.json"));

describe("model configs", () => {
  it.each(Object.entries(models))("%s has exactly the published parameter count", (name, m) => {
    expect(countParams(m)).toBe(m.params);
    const r = parseRecipeText(read(`recipes/${name}.yaml`));
    for (const k of ["layers", "hidden_size", "heads", "kv_heads", "head_dim", "ffn_hidden_size", "vocab_size", "tie_embeddings", "params"] as const) expect(r.model[k]).toBe(m[k]);
  });
  it("pins the three counts of the paper's released shapes", () => {
    expect(Object.values(models).map((m) => countParams(m))).toEqual([140_248_512, 359_431_168, 949_685_760]);
  });
});

describe("MobileLLM-R1 recipes reproduce the published mix", () => {
  const plans = planRecipe(parseRecipeText(read("recipes/mobilellm-r1-950m.yaml")));
  const rows = recipeBudgetRows(plans);

  it("every share equals the published percentage to rounding (≤ 0.01 point: published rows sum to 100.01 %)", () => {
    for (const p of published.phases) {
      for (const [source, pct] of Object.entries(p.mix as Record<string, number>)) {
        const row = rows.find((r) => r.phase === p.phase && r.source === source);
        expect(row, `${p.phase}/${source}`).toBeDefined();
        expect(Math.abs(row!.share * 100 - pct)).toBeLessThanOrEqual(0.0100001);
      }
      const phaseTokens = rows.filter((r) => r.phase === p.phase).reduce((a, r) => a + r.tokens, 0);
      expect(Math.abs(phaseTokens - p.tokens) / p.tokens).toBeLessThan(1e-5);
    }
  });

  it("shows the heavy resampling: total pre-training epochs as derived from the tables", () => {
    const pre = plans.find((p) => p.stage === "pretrain")!.plan;
    const total = (src: string) => pre.phases.at(-1)!.components.find((c) => c.name === src)?.cumulative_epochs ?? pre.phases[0]!.components.find((c) => c.name === src)!.cumulative_epochs;
    for (const [src, epochs] of Object.entries(published.implied_epochs_total_pretrain as Record<string, number>)) {
      expect(Math.abs(total(src)! - epochs), src).toBeLessThan(0.1 + epochs * 0.01);
    }
  });

  it("the three sizes differ only in the model", () => {
    const a = parseRecipeText(read("recipes/mobilellm-r1-140m.yaml"));
    const b = parseRecipeText(read("recipes/mobilellm-r1-950m.yaml"));
    const paths = diffRecipes(a, b).map((d) => d.path);
    expect(paths.every((p) => p === "name" || p === "description" || p.startsWith("model."))).toBe(true);
    expect(paths).toContain("model.hidden_size");
  });
});

describe("recipe validation", () => {
  const demo = read("recipes/demo.yaml");
  it.each([
    [demo.replace("seed:", "sede: 1\nseed:"), "sede", /unknown key/],
    [demo.replace(/recipe_version: 1/, "recipe_version: 2"), "recipe_version", /unsupported version 2/],
    [demo.replace(/weight: [0-9.]+/, "weight: -1"), /^stages\[0\]\.phases\[0\]\.mix\[0\]\.weight$/, /≥ 0/],
    [demo.replace(/source: web/, "source: nowhere"), /^stages\[0\]\.phases\[0\]\.mix\[\d\]\.source$/, /unknown source nowhere/],
    [demo.replace(/params: \d+/, "params: 12"), "model.params", /declares 12 parameters/],
    [demo.replace(/weight: [0-9.]+/g, "weight: 0"), /^stages\[0\]\.phases\[0\]\.mix$/, /sum to 0/],
    [demo.replace(/tokens: \d+ +# phase-1/, "tokens: .nan  # phase-1"), /^stages\[0\]\.phases\[0\]\.tokens$/, /finite number/],
  ])("rejects a broken recipe naming the field (%#)", (text, field, message) => {
    let err: any;
    try {
      parseRecipeText(text);
    } catch (e) {
      err = e;
    }
    expect(err?.name).toBe("ValidationError");
    if (typeof field === "string") expect(err.field).toBe(field);
    else expect(err.field).toMatch(field);
    expect(err.message).toMatch(message);
  });
});
