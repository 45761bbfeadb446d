import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { browserMissing, launchChromium } from "../support/browser.js";
import { startStack, waitForRun, type Stack } from "../support/stack.js";

/**
 * The mixtures pages on real data: two bundled samples curated by a real curator worker, two
 * mixtures over them (planned by the API) that differ only in weights, then in Debian's headless
 * Chromium the budget table of one plan and the comparison of both.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const SHOTS = resolve(ROOT, "test-results/screenshots");
const missing = browserMissing();
if (missing) console.warn(`tokenmill: skipping the mixtures browser test: ${missing}`);

const pipeline = { version: 1, name: "mix-browser", steps: [{ step: "normalize" }, { step: "length", min_words: 50 }, { step: "tokenize" }] };
const SOURCES = { web: "c4_redpajama_cc_samples.jsonl.gz", code: "thealgorithms_python_first200.jsonl.gz" };
/** One interleaving block: 64 sequences of 128 tokens. */
const BLOCK = 128 * 64;
const mixture = (name: string, main: { web: number; code: number }) => ({
  name,
  seed: 7,
  seq_len: 128,
  tokenizer: "llama3",
  block_size: 64,
  phases: [
    { name: "warmup", tokens: 2 * BLOCK, components: [{ name: "web", dataset: "web", weight: 1 }, { name: "code", dataset: "code", weight: 1 }] },
    { name: "main", tokens: 4 * BLOCK, components: [{ name: "web", dataset: "web", weight: main.web }, { name: "code", dataset: "code", weight: main.code }] },
  ],
});

interface PlanComponent {
  name: string;
  tokens: number;
  share: number;
  available_tokens: number | null;
  epochs: number | null;
}
const nf = new Intl.NumberFormat("en");
const fmt = (n: number | null) => (n === null ? "–" : nf.format(n));
const fmtEpochs = (e: number | null) => (e === null ? "–" : e.toFixed(2));
/** Rows of a table as the user reads them: each cell's text, header cells included. */
const cells = (page: Page, name: string) =>
  page.getByRole("table", { name }).locator("tbody tr").evaluateAll((trs) => trs.map((tr) => Array.from(tr.children).map((c) => (c.textContent ?? "").trim())));

describe.skipIf(missing !== null)("the mixtures pages in headless Chromium, on curated samples", () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let base: string;
  const mixtures: Record<string, { id: string; plan: { phases: Array<{ name: string; components: PlanComponent[] }> } }> = {};
  const consoleErrors: string[] = [];
  const auth = () => ({ authorization: `Bearer ${stack.admin}` });
  const shot = (name: string) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    const [s, b] = await Promise.all([
      startStack({ worker: true }),
      launchChromium(),
    ]);
    stack = s;
    browser = b;
    base = await stack.app.listen({ host: "127.0.0.1", port: 0 });
    expect((await stack.app.inject({ method: "POST", url: "/pipelines", headers: auth(), payload: pipeline })).statusCode).toBe(201);
    const runs: string[] = [];
    for (const [name, file] of Object.entries(SOURCES)) {
      expect((await stack.app.inject({ method: "POST", url: "/sources", headers: auth(), payload: { name, uri: `file://${ROOT}/data/samples/${file}` } })).statusCode).toBe(201);
      const res = await stack.app.inject({ method: "POST", url: "/curation-runs", headers: auth(), payload: { source: name, pipeline: pipeline.name } });
      expect(res.statusCode, res.body).toBe(202);
      runs.push(res.json().id);
    }
    for (const id of runs) expect((await waitForRun(stack, id)).status).toBe("succeeded");
    // Two mixtures over the curated versions (by name), differing only in the main phase's weights.
    for (const [name, main] of [
      ["mix-a", { web: 1, code: 3 }],
      ["mix-b", { web: 2, code: 2 }],
    ] as const) {
      const created = await stack.app.inject({ method: "POST", url: "/mixtures", headers: auth(), payload: mixture(name, main) });
      expect(created.statusCode, created.body).toBe(201);
      const id = created.json().id as string;
      const planned = await stack.app.inject({ method: "POST", url: `/mixtures/${id}/plan`, headers: auth() });
      expect(planned.statusCode, planned.body).toBe(200);
      mixtures[name] = { id, plan: planned.json() };
    }
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows a plan's budget table with the API's numbers for every phase × source", async () => {
    await page.goto(`${base}/ui/#/mixtures`);
    await page.getByLabel("API token").fill(stack.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Mixtures" }).waitFor();
    // The options arrive with the list: wait for mix-a's before choosing it.
    await page.getByRole("combobox", { name: "Mixture", exact: true }).locator(`option[value="${mixtures["mix-a"]!.id}"]`).waitFor({ state: "attached" });
    await page.getByRole("combobox", { name: "Mixture", exact: true }).selectOption(mixtures["mix-a"]!.id);

    // The weights the specification gave sit beside the shares the plan made of them.
    const weight = (phase: string, component: string) => mixture("mix-a", { web: 1, code: 3 }).phases.find((p) => p.name === phase)!.components.find((c) => c.name === component)!.weight;
    const expected = mixtures["mix-a"]!.plan.phases.flatMap((ph) =>
      ph.components.map((c) => [ph.name, c.name, fmt(weight(ph.name, c.name)), fmt(c.tokens), `${(c.share * 100).toFixed(2)}%`, fmt(c.available_tokens), fmtEpochs(c.epochs)]),
    );
    expect(expected).toHaveLength(4);
    // Real numbers, not placeholders: both sources have curated tokens and a positive budget.
    for (const row of expected) expect(row.slice(3)).not.toContain("–");
    expect(expected.map((r) => r[2])).toEqual(["1", "1", "1", "3"]);
    await expect.poll(() => cells(page, "Budget of mix-a"), { timeout: 10_000 }).toEqual(expected);
    await shot("mixture-budget");
  });

  it("compares two mixtures: the spec paths whose values differ, and the budgets side by side", async () => {
    await page.getByRole("combobox", { name: "Compare with" }).selectOption(mixtures["mix-b"]!.id);
    const specTable = "Specification: 2 differences between mix-a and mix-b";
    await expect
      .poll(() => cells(page, specTable), { timeout: 10_000 })
      .toEqual([
        ["phases[name=main].components[name=web].weight", "1", "2"],
        ["phases[name=main].components[name=code].weight", "3", "2"],
      ]);

    // The budget comparison: per phase × source, both plans' tokens and the difference, from the API.
    const rowsOf = (name: string) => new Map(mixtures[name]!.plan.phases.flatMap((ph) => ph.components.map((c) => [`${ph.name}/${c.name}`, c] as const)));
    const [a, b] = [rowsOf("mix-a"), rowsOf("mix-b")];
    const expected = [...a.keys()].map((k) => {
      const [phase, source] = k.split("/");
      const ta = a.get(k)!.tokens;
      const tb = b.get(k)!.tokens;
      const d = tb - ta;
      return [phase, source, fmt(ta), fmt(tb), d === 0 ? "0" : `${d > 0 ? "+" : ""}${fmt(d)}`];
    });
    // The weights moved tokens between sources in the main phase only.
    expect(expected.filter((r) => r[4] !== "0").map((r) => `${r[0]}/${r[1]}`)).toEqual(["main/web", "main/code"]);
    const budgetRows = () => cells(page, "Budget: mix-a vs mix-b").then((rows) => rows.map((r) => r.slice(0, 5)));
    await expect.poll(budgetRows, { timeout: 10_000 }).toEqual(expected);
    // Changed rows are marked, unchanged ones are not.
    const marked = await page
      .getByRole("table", { name: "Budget: mix-a vs mix-b" })
      .locator("tbody tr.changed")
      .evaluateAll((trs) => trs.map((tr) => `${tr.children[0]!.textContent}/${tr.children[1]!.textContent}`));
    expect(marked).toEqual(["main/web", "main/code"]);
    await shot("mixture-diff");

    // The comparison is in the address: a fresh load shows it again.
    expect(new URL(page.url()).hash).toBe(`#/mixtures?a=${mixtures["mix-a"]!.id}&b=${mixtures["mix-b"]!.id}`);
    await page.reload();
    await expect.poll(() => cells(page, specTable), { timeout: 10_000 }).toHaveLength(2);
  });

  it("logged no console errors", () => {
    expect(consoleErrors).toEqual([]);
  });
});
