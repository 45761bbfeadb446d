import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import {
  BUDGET_HEADERS,
  budgetRows,
  budgetTableRows,
  diffRecipes,
  epochsFlag,
  modelLine,
  phaseBudgetLine,
  phaseBudgets,
  parseRecipeText,
  planRecipe,
  ValidationError,
  type MixturePlan,
  type Recipe,
} from "@tokenmill/domain";
import type { Client } from "./client.js";
import { table } from "./format.js";
import { applyRecipe, exportRecipe } from "./recipe-apply.js";
import { resolveId } from "./resolve.js";

type Ctx = () => Client;
type Json = () => boolean;
const out = (v: unknown): void => void process.stdout.write(`${typeof v === "string" ? v : JSON.stringify(v, null, 2)}\n`);

function readRecipe(file: string) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseRecipeText(text, file);
}

/**
 * Budget tables. For a recipe: first the model (name, parameters, shape), then per stage each
 * phase's token budget and the steps it implies; the table flags sources whose implied epochs come
 * near their max_epochs. `--json` prints the budget rows with max_epochs and the flag.
 */
export function printPlans(plans: { stage?: string; plan: MixturePlan }[], json: boolean, recipe?: Recipe): void {
  if (json) {
    return out(
      plans.flatMap((p) => {
        const comps = p.plan.phases.flatMap((ph) => ph.components);
        return budgetRows(p.plan).map((row, i) => ({ ...(p.stage ? { stage: p.stage } : {}), ...row, cumulative_epochs: comps[i]!.cumulative_epochs, max_epochs: comps[i]!.max_epochs, flag: epochsFlag(comps[i]!) }));
      }),
    );
  }
  if (recipe) out(`${modelLine(recipe.name, recipe.model)}
`);
  for (const p of plans) {
    const head = `${p.stage ? `stage ${p.stage}: ` : ""}seq_len ${p.plan.seq_len}, ${p.plan.tokens.toLocaleString("en-US")} tokens, plan ${p.plan.fingerprint}`;
    const stage = recipe?.stages.find((s) => s.name === p.stage);
    const phases = stage ? phaseBudgets(stage, p.plan).map((b) => `${phaseBudgetLine(b, p.plan.seq_len)}\n`).join("") : "";
    out(`${head}\n${phases}${table(BUDGET_HEADERS, budgetTableRows(p.plan))}\n`);
  }
}

/**
 * `tokenmill recipe …` (offline plan and diff; apply and export talk to the API) and
 * `tokenmill plan <mixture-id | recipe.yaml>`, `tokenmill mixtures …`.
 */
export function registerRecipeCommands(program: Command, client: Ctx, json: Json): void {
  const recipe = program.command("recipe").description("recipe files: sources, pipelines, mixtures, model and training in one YAML");
  recipe
    .command("plan <file>")
    .description("budget table of every phase from the recipe's declared source sizes (offline, no services)")
    .action((file: string) => {
      const r = readRecipe(file);
      printPlans(planRecipe(r), json(), r);
    });
  recipe
    .command("validate <file>")
    .description("check a recipe; errors name the offending key")
    .action((file: string) => {
      const r = readRecipe(file);
      out(json() ? { ok: true, name: r.name } : `${file}: ok (${r.sources.length} sources, ${r.stages.reduce((a, s) => a + s.phases.length, 0)} phases)`);
    });
  recipe
    .command("diff <a> <b>")
    .description("differences between two recipes (files, or experiment ids or names when not a file)")
    .action(async (a: string, b: string) => {
      const load = async (x: string, arg: string) => {
        if (x.endsWith(".yaml") || x.endsWith(".yml") || x.endsWith(".json")) return readRecipe(x);
        const c = client();
        return (await c.get(`/experiments/${await resolveId(c, "experiment", x, arg)}`)).recipe;
      };
      const d = diffRecipes(await load(a, "<a>"), await load(b, "<b>"));
      if (json()) return out(d);
      out(d.length ? table(["path", a, b], d.map((x) => [x.path, show(x.a), show(x.b)])) : "no differences");
    });
  recipe
    .command("apply <file>")
    .description("create sources, pipelines, mixtures and an experiment through the API, all or nothing (checked before the first write; what it created is removed if a later step fails)")
    .option("--scale <factor>", "shrink token budgets, model and steps (e.g. 1e-7); unavailable sources map to bundled samples of the same domain")
    .option("--samples <dir>", "folder of bundled samples for --scale", "data/samples")
    .option("--name <name>", "experiment name (default: the recipe's name)")
    .action(async (file: string, o: { scale?: string; samples: string; name?: string }) => {
      const scale = o.scale === undefined ? undefined : Number(o.scale);
      if (scale !== undefined && !(scale > 0 && scale <= 1)) throw new ValidationError(`must be in (0, 1], got ${o.scale}`, "--scale");
      const r = await applyRecipe(client(), readRecipe(file), { scale, samplesDir: o.samples, name: o.name, log: (m) => !json() && out(m), warn: (m) => (json() ? process.stderr.write(`${m}\n`) : out(m)) });
      if (json()) out(r);
    });
  recipe
    .command("export <experiment>")
    .description("print an experiment's recipe as YAML, with the dataset fingerprints it was planned on")
    .action(async (ref: string) => {
      const c = client();
      const id = await resolveId(c, "experiment", ref, "<experiment>");
      out(json() ? await c.get(`/experiments/${id}`) : await exportRecipe(c, id));
    });

  program
    .command("plan <target>")
    .description("budget table of a mixture (id) or of a recipe file (offline)")
    .action(async (target: string) => {
      if (/\.(ya?ml|json)$/.test(target)) {
        const doc = parseYaml(readFileSync(target, "utf8"));
        if (doc && typeof doc === "object" && "recipe_version" in doc) {
          const r = readRecipe(target);
          return printPlans(planRecipe(r), json(), r);
        }
        const c = client();
        return printPlans([{ plan: (await c.post("/mixtures/plan", doc)) as MixturePlan }], json());
      }
      const c = client();
      const plan = (await c.post(`/mixtures/${await resolveId(c, "mixture", target, "<target>")}/plan`)) as MixturePlan;
      printPlans([{ plan }], json());
    });

  program
    .command("experiments")
    .description("experiments (applied recipes)")
    .command("list")
    .description("list experiments, newest first")
    .action(async () => {
      const r = await client().get("/experiments?limit=500");
      json() ? out(r) : out(table(["id", "name", "model", "created"], r.items.map((e: any) => [e.id, e.name, e.recipe?.model?.name ?? "-", e.created_at])));
    });

  const mixtures = program.command("mixtures").description("token-budgeted mixtures over dataset versions");
  mixtures
    .command("create <file>")
    .description("create a mixture from a YAML/JSON file {name, seed, seq_len, tokenizer, phases}")
    .action(async (file: string) => {
      const m = await client().post("/mixtures", parseYaml(readFileSync(file, "utf8")));
      json() ? out(m) : out(`mixture ${m.name} (${m.id}): plan ${m.plan.fingerprint}, ${m.plan.tokens.toLocaleString("en-US")} tokens`);
    });
  mixtures
    .command("list")
    .description("list mixtures")
    .action(async () => {
      const r = await client().get("/mixtures?limit=500");
      json() ? out(r) : out(table(["id", "name", "seq_len", "tokens", "fingerprint"], r.items.map((m: any) => [m.id, m.name, m.plan.seq_len, m.plan.tokens, m.plan.fingerprint])));
    });
  mixtures.command("get <mixture>").description("show a mixture with its plan (id or name)").action(async (ref: string) => {
    const c = client();
    out(await c.get(`/mixtures/${await resolveId(c, "mixture", ref, "<mixture>")}`));
  });
}

const show = (v: unknown) => {
  const s = v === undefined ? "(absent)" : typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};
